"""The simulation's commands take bad input as one line on stderr and exit 2, nothing written."""
import pytest

from ohgw.simulate import fidelity, pairs, table


@pytest.mark.parametrize("command, argv, line", [
    (table.main, ["{empty}", "--out", "{out}"], "error: no replicate.json found below {empty}"),
    (pairs.main, ["{empty}", "--out", "{out}"],
     "error: {empty}: not a curves table (no ohgw_table.json; build one with python -m ohgw.simulate.table)"),
    (fidelity.main, ["{empty}", "{empty}", "--out", "{out}/f.csv"], "error: no replicate.json found below {empty}"),
], ids=["table", "pairs", "fidelity"])
def test_bad_input_is_one_line_and_exit_2(command, argv, line, tmp_path, capsys):
    empty, out = tmp_path / "empty", tmp_path / "out"
    empty.mkdir()
    fill = {"empty": empty, "out": out}
    assert command([a.format(**fill) for a in argv]) == 2
    assert capsys.readouterr().err.splitlines() == [line.format(**fill)]
    assert not out.exists()
