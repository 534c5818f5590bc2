"""python -m ohgw.analysis <dir> [<dir> ...] [--out DIR]"""
import argparse
import sys

from ohgw.analysis.collect import AnalysisError
from ohgw.analysis.pipeline import analyze


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.analysis", description=(
        "Analyse every replicate below the given directories: summary.csv, paired.csv, "
        "hyperparams.csv, plots, report.md and report.html."))
    parser.add_argument("dirs", nargs="+", help="directories searched for replicate.json")
    parser.add_argument("--out", help="output directory (default: <first dir>/analysis)")
    args = parser.parse_args(argv)
    try:
        analyze(args.dirs, args.out)
    except AnalysisError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
