"""Install the pinned wheels of scripts/gpu_requirements.txt (plus any `--also` pins) from a
wheels folder into a target folder for PYTHONPATH, offline, on this interpreter, without a
venv and without dependencies (the machine has them): `pip install --target`, or where this
interpreter has no pip, by unpacking the wheels (all are pure Python: unpacking is installing).

    python scripts/gpu_install.py WHEELS TARGET [--also numpy==2.4.6] [--unpack]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REQUIREMENTS = Path(__file__).with_name("gpu_requirements.txt")


def pins(also=()) -> list[tuple[str, str]]:
    """(name, version) of every pinned requirement."""
    lines = [line.strip() for line in REQUIREMENTS.read_text().splitlines()] + list(also)
    return [tuple(line.split("==")) for line in lines if line and not line.startswith("#")]


def wheel_of(wheels: Path, name: str, version: str) -> Path:
    """The wheel file of name==version in the folder (names compared as pip normalises them)."""
    want = re.sub(r"[-_.]+", "_", name).lower()
    for path in sorted(wheels.glob("*.whl")):
        dist, ver = path.name.split("-")[:2]
        if re.sub(r"[-_.]+", "_", dist).lower() == want and ver == version:
            return path
    raise SystemExit(f"error: no wheel of {name}=={version} in {wheels}")


def unpack(wheel: Path, target: Path) -> None:
    """A wheel's files into target; its <dist>.data/purelib|platlib into target too, the rest of
    .data (console scripts, data files) left out: nothing here runs them."""
    with zipfile.ZipFile(wheel) as z:
        for member in z.namelist():
            parts = member.split("/")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            dest = target.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with z.open(member) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)


def has_pip() -> bool:
    return subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheels", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--also", nargs="*", default=[], help="more pins name==version (a NumPy for a dry run)")
    parser.add_argument("--unpack", action="store_true", help="unpack even where pip is there")
    args = parser.parse_args()
    wanted = pins(args.also)
    files = [wheel_of(args.wheels, name, version) for name, version in wanted]  # all there, before anything
    args.target.mkdir(parents=True, exist_ok=True)
    if has_pip() and not args.unpack:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                        "--disable-pip-version-check", "--upgrade", "--target", str(args.target),
                        *map(str, files)], check=True)
        how = "pip install --target"
    else:
        for wheel in files:
            unpack(wheel, args.target)
        how = "unpacked"
    print(f"installed {len(files)} wheels into {args.target} ({how}): "
          + ", ".join(f"{n}=={v}" for n, v in wanted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
