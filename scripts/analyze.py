"""python scripts/analyze.py <dir> [<dir> ...] [--out DIR]: see ohgw.analysis."""
import sys

from ohgw.analysis.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
