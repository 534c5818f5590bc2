"""run.py's command line (ohgw.tuner.command_line): options anywhere, sweeps expanded as Hydra's
basic sweeper expands them, and every `python run.py` line the documentation shows composed as
its first job and checked, without starting anything."""
import re
import shlex
from pathlib import Path

import pytest

from ohgw.errors import ConfigError
from ohgw.tuner.command_line import read, split
from ohgw.tuner.run_order import blocked
from tests.helpers import ROOT

DESIGN_CARD = "python run.py scheduler=pasha warmstart=ohgw task=cifar10 -m 'seed=range(32)'"
COMMAND = re.compile(r"python run\.py\b")
# what the documentation writes for "your value here", and what stands in for it
PLACEHOLDERS = {"experiment=NAME": "experiment=smoke", "task=<task>": "task=digits", "[settings]": "",
                "<dir>": "/tmp/dir", "<partition>": "gpu", "[the overrides phase 1 printed]": ""}


def documented_commands(path: Path):
    """(line number, command) of each `python run.py` line: in a Markdown code block (indented)
    or inline code span, a config's comment, run.py's docstring; a trailing `\\` continues it."""
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line, number = lines[i], i + 1
        if path.suffix == ".yaml":
            code = line.split("#", 1)[1] if "#" in line else ""
        else:
            code = line if path.suffix == ".py" or line.startswith("    ") else ""
        if COMMAND.search(code):
            command = code[COMMAND.search(code).start():]
            while command.rstrip().endswith("\\"):
                i += 1
                more = lines[i].split("#", 1)[1] if path.suffix == ".yaml" else lines[i]
                command = command.rstrip()[:-1] + " " + more.strip()
            yield number, command
        elif not code:
            for inline in re.finditer(r"`(python run\.py[^`]*)`", line):
                yield number, inline.group(1)
        i += 1


def documented():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "conf").rglob("*.yaml")),
             ROOT / "run.py"]
    found = {}
    for path in files:
        for number, command in documented_commands(path):
            for placeholder, value in PLACEHOLDERS.items():
                command = command.replace(placeholder, value)
            if command.strip() != "python run.py ...":  # prose about a command, not one
                found[f"{path.relative_to(ROOT)}:{number}"] = command
    return found


DOCUMENTED = documented()


def test_the_documentation_shows_the_design_cards_line_and_many_others():
    assert DESIGN_CARD in (ROOT / "README.md").read_text()
    assert sum(DESIGN_CARD == c for c in DOCUMENTED.values()) == 1
    assert len(DOCUMENTED) >= 50, sorted(DOCUMENTED)
    assert {where.split(":")[0] for where in DOCUMENTED} >= {
        "README.md", "docs/operations.md", "docs/results.md", "conf/hydra/launcher/slurm.yaml", "run.py"}


@pytest.mark.parametrize("where", sorted(DOCUMENTED))
def test_every_documented_command_composes(where):
    args = shlex.split(DOCUMENTED[where], comments=True)
    assert args[:2] == ["python", "run.py"]
    line = read(args[2:])  # composes the first job and runs the start checks: ConfigError if not
    assert line.first is not None and line.jobs
    assert line.multirun == ("-m" in args)


def test_the_design_cards_line_is_32_jobs_with_the_option_in_the_middle():
    line = read(shlex.split(DESIGN_CARD)[2:])
    assert line.argv[0] == "-m" and len(line.jobs) == 32
    assert line.jobs[5] == ["scheduler=pasha", "warmstart=ohgw", "task=cifar10", "seed=5"]
    assert (line.first.scheduler.name, line.first.warmstart.name, line.first.task.name, line.first.seed) == (
        "pasha", "ohgw", "cifar10", 0)


@pytest.mark.parametrize("argv, options, overrides", [
    (["task=digits", "-m", "seed=1,2"], ["-m"], ["task=digits", "seed=1,2"]),
    (["a=1", "--multirun", "b=2"], ["--multirun"], ["a=1", "b=2"]),
    (["a=1", "--cfg", "job", "b=2"], ["--cfg", "job"], ["a=1", "b=2"]),   # an option's value stays with it
    (["a=1", "--info", "b=2"], ["--info"], ["a=1", "b=2"]),               # an optional value that is not one
    (["a=1", "--info", "defaults"], ["--info", "defaults"], ["a=1"]),
])
def test_options_move_in_front_with_their_values(argv, options, overrides):
    assert split(argv) == (options, overrides)


def test_a_sweep_expands_as_the_sweeper_runs_it_with_the_configs_axes():
    jobs = read(["-m", "warmstart=baseline,ohgw", "seed=range(3)"]).jobs
    product = [[f"warmstart={w}", f"seed={s}"] for w in ("baseline", "ohgw") for s in range(3)]
    # each seed's jobs together, in an order drawn per seed (tests/unit/test_run_order.py)
    assert [j[-2:] for j in jobs] == blocked(product)
    assert [j[-1] for j in jobs] == [f"seed={s}" for s in range(3) for _ in range(2)]
    hydras = read(["-m", "warmstart=baseline,ohgw", "seed=range(3)", "hydra.sweeper.block_by=null"]).jobs
    assert [j[:2] for j in hydras] == product  # Hydra's own order: the product as given
    # experiment=noise_floor brings its own axes (hydra.sweeper.params): 5 variants x 10 seeds;
    # the command line's value of an axis replaces the config's
    assert len(read(["-m", "experiment=noise_floor"]).jobs) == 50
    assert len(read(["-m", "experiment=noise_floor", "seed=range(2)"]).jobs) == 10
    # exp2's excluded corners are jobs too (they exit at once)
    assert len(read(["-m", "experiment=exp2"]).jobs) == 3 * 2 * 2 * 24
    assert len(read(["hydra.mode=MULTIRUN", "seed=range(4)"]).jobs) == 4  # Hydra's other way to say -m


@pytest.mark.parametrize("argv, message", [
    (["budget.epoch=5"], "budget.epoch=5: no such key; did you mean budget.epochs?"),
    (["budgt.epochs=5"], "budgt.epochs=5: no such key; did you mean budget.epochs?"),
    (["task.network.widht=64"], "task.network.widht=64: no such key; did you mean task.network.width?"),
    (["-m", "warmstart=baseline,ohgw", "budget.epoch=5"], "budget.epoch=5: no such key; did you mean budget.epochs?"),
    (["budget={epoch: 5}"], "budget={epoch: 5}: no such key; did you mean budget.epochs?"),
    (["-m", "seed=0,1,abc"], "seed must be an integer >= 0, got 'abc'"),  # the third job: refused before the first
    (["seed=abc"], "seed must be an integer >= 0, got 'abc'"),
    (["seed=[1"], "seed=[1: no viable alternative at input '[1'"),
    (["num_gpus_per_trial=2"], "num_gpus_per_trial=2: a trial trains on one GPU"),
])
def test_bad_overrides_are_one_line(argv, message):
    with pytest.raises(ConfigError) as e:
        read(argv)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_a_classifiers_label_noise_needs_no_plus():
    assert read(["task.label_noise=0.1"]).first.task.label_noise == 0.1
