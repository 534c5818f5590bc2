"""The GPU check (scripts/gpu_check.sh) proven on CPU, so that it cannot fail on the GPU machine's
few minutes for a reason a CPU shows: its wheels downloaded as for the machine, installed with
pip --target and PYTHONPATH on this interpreter (no venv), onto NumPy 2 as the machine has it,
and every step run at small sizes on the CPU (--dry-run), each to PASS with its figures."""
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.helpers import ROOT

SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))
from gpu_install import pins  # noqa: E402

STEPS = ("install", "environment", "replicate", "replicate-figures", "warmstart", "cuda-tests", "throughput",
         "aa-pair", "lm-memory", "schedulers")
MODEL_FREE = ("asha", "asha_promotion", "grid", "hyperband", "pasha", "random", "table")  # no model fit to choose with


def test_the_pins_are_the_versions_the_tests_pass_on():
    assert len(pins()) == 11
    for name, version in pins():
        assert metadata.version(name) == version, name


def test_a_bad_argument_is_one_line_and_exit_2():
    done = subprocess.run([str(SCRIPTS / "gpu_check.sh"), "--bogus"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.splitlines() == [
        "error: unknown argument --bogus (--dry-run, --only STEP,STEP)"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """(wheels, data, NumPy 2's version): the machine's wheels from scripts/gpu_wheels.sh, plus a
    NumPy 2 wheel for this interpreter; the data from scripts/gpu_data.sh."""
    tmp = tmp_path_factory.mktemp("gpu")
    for path in (Path("/usr/share/datasets/fashion-mnist"), Path("/usr/share/doc/python3-doc/html/_sources")):
        if not path.is_dir():
            pytest.skip(f"needs {path} (scripts/install_system_deps.sh)")
    wheels, data = tmp / "wheels", tmp / "data"
    subprocess.run([str(SCRIPTS / "gpu_wheels.sh"), str(wheels)], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "-d", str(wheels), "numpy>=2,<3"], check=True, capture_output=True)
    numpy2 = next(wheels.glob("numpy-2*.whl")).name.split("-")[1]
    subprocess.run([str(SCRIPTS / "gpu_data.sh"), str(data)], check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin", "GPU_DATA_PYTHON": sys.executable})
    return wheels, data, numpy2


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the install and every step at small sizes: the subprocess's own bound, not the suite's 600 s
def test_the_dry_run_installs_without_a_venv_onto_numpy_2_and_every_step_passes_on_cpu(prepared, tmp_path):
    wheels, data, numpy2 = prepared
    out, target = tmp_path / "out", tmp_path / "site"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OUT": str(out), "GPU_CHECK_PYTHON": sys.executable,
           "GPU_CHECK_WHEELS": str(wheels), "GPU_CHECK_DATA": str(data), "GPU_CHECK_TARGET": str(target),
           "GPU_CHECK_ALSO": f"numpy=={numpy2}"}
    done = subprocess.run([str(SCRIPTS / "gpu_check.sh"), "--dry-run"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1800)
    report = (out / "gpu_check.txt").read_text()
    assert done.returncode == 0, report[-4000:]
    for step in STEPS:
        assert re.search(rf"^-- PASS {step} \(\d+ s\)$", report, re.M), step
    # installed into the target with pip, not a venv; imported from there, on NumPy 2
    assert f"installed 12 wheels into {target} (pip install --target)" in report
    assert f"numpy {numpy2}" in report and f"11 pinned packages from {target}: ok" in report
    assert (target / "syne_tune").is_dir() and not (target / "bin" / "activate").exists()
    # each step's figures
    assert re.search(r"status complete; cpu, 32-true, GPUs None, 2 workers", report)
    assert re.search(r"warm-start: \d+ trials, share of device-seconds [\d.]+%", report)
    assert re.search(r"fashion_mnist\s+cpu\s+16 all 5\s+[\d.]+", report)  # the warm-start bench's row
    assert re.search(r"ratio harness / bare: [\d.]+", report)
    rows, identical = map(int, re.search(r"(\d+) \(trial, epoch\) rows in both .* (\d+) identical", report).groups())
    assert rows > 0 and identical == rows  # on CPU the A/A pair trains identically
    assert re.search(r"evaluation: 32 blocks in chunks of \d+: .* MiB", report)
    assert re.search(r"warm-start \(all six\) [\d.]+ s", report)
    # every scheduler ran on NumPy 2; those that fit no model decided exactly as on this NumPy
    on_numpy2 = scheduler_lines(report)
    here = subprocess.run([sys.executable, str(SCRIPTS / "scheduler_probe.py")], capture_output=True, text=True,
                          cwd=ROOT)
    on_numpy1 = scheduler_lines(here.stdout)
    probed = [p.stem for p in (ROOT / "conf" / "scheduler").glob("*.yaml") if p.stem not in ("transfer_bo", "aux_net")]
    assert len(on_numpy2) == len(on_numpy1) == len(probed) == 15 and "FAILED" not in report
    for name in MODEL_FREE:
        assert on_numpy2[name] == on_numpy1[name], name


def scheduler_lines(text: str) -> dict:
    return {m.group(1): m.group(0) for m in re.finditer(r"^(\w+)\s+trials\s+\d+\s+results.*$", text, re.M)}


@pytest.mark.slow
def test_without_pip_the_install_unpacks_the_same_wheels(prepared, tmp_path):
    wheels, _, _ = prepared
    target = tmp_path / "site"
    subprocess.run([sys.executable, str(SCRIPTS / "gpu_install.py"), str(wheels), str(target), "--unpack"],
                   check=True, capture_output=True)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{target}:{ROOT / 'src'}"}
    done = subprocess.run([sys.executable, str(SCRIPTS / "gpu_env.py"), str(target), "--device", "cpu"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0 and f"11 pinned packages from {target}: ok" in done.stdout, done.stdout + done.stderr
