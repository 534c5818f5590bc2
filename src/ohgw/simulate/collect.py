"""What a simulation study's report commits: for every analysed folder of its output (a cell:
OUT/verdict/asha, ...), the analysis's summary.csv and paired.csv and every replicate's T@tau
(t_at_tau.csv.xz, a few hundred KB for thousands of replicates, where their records would be tens of
MB). The replays are deterministic, so the records themselves are rebuilt from the table.

    python -m ohgw.simulate.collect OUT DEST
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from ohgw.simulate.fidelity import t_at_tau

TABLES = ("summary.csv", "paired.csv")


def collect(out: Path, dest: Path) -> list[Path]:
    """Each cell of `out` (a folder with an analysis/ beside its replicates) into dest/<same path>."""
    cells = sorted(p.parent for p in Path(out).rglob("analysis") if (p / "summary.csv").is_file())
    for cell in cells:
        target = dest / cell.relative_to(out)
        target.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            if (cell / "analysis" / name).is_file():
                shutil.copyfile(cell / "analysis" / name, target / name)
        t_at_tau([cell]).sort_values(["warmstart", "eta_h", "seed"]).to_csv(target / "t_at_tau.csv.xz", index=False)
    return cells


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.simulate.collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    cells = collect(args.out, args.dest)
    print(f"{len(cells)} cells of {args.out} -> {args.dest}")
    return 0 if cells else 2


if __name__ == "__main__":
    sys.exit(main())
