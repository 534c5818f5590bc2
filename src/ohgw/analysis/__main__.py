"""python -m ohgw.analysis <dir or archive> [...] [--out DIR] [--margin M]"""
import argparse
import sys

from ohgw.analysis.collect import AnalysisError
from ohgw.analysis.pipeline import analyze
from ohgw.analysis.searchers import DEFAULT_MARGIN
from ohgw.errors import one_line_errors


@one_line_errors(AnalysisError)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ohgw.analysis", description=(
        "Analyse every replicate below the given directories, or in the given replicate archives (written by "
        "python -m ohgw.analysis.archive): summary.csv, paired.csv, "
        "hyperparams.csv, plots, report.md and report.html; searchers.csv where a sweep varied the scheduler."))
    parser.add_argument("dirs", nargs="+", help="directories searched for replicate.json, or archives (*.jsonl.xz)")
    parser.add_argument("--out", help="output directory (default: <first dir>/analysis; beside a first archive)")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                        help="searcher comparison: iterations and device-seconds until the best-so-far comes "
                             "within this absolute score difference of the best any scheduler found "
                             f"(default {DEFAULT_MARGIN})")
    args = parser.parse_args(argv)
    analyze(args.dirs, args.out, args.margin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
