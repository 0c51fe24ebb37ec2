"""The minimum versions pyproject.toml declares work: a smoke run on exactly those pins.

A fresh virtual environment (under this run's temporary directory, never reused) gets
every runtime dependency at ``==`` its declared minimum, plus pytest, and ensemblekit
itself with ``--no-deps``; then a bounded subset of the suite and a command-line training
run execute there.  Skipped only when the packages cannot be downloaded.  About a
minute with a warm pip cache; every subprocess has a timeout.

The build requirement is tested the same way: ensemblekit and one plugin
distribution are built (``pip wheel --no-build-isolation --no-deps``) in a fresh
venv holding the oldest setuptools series the ``pyproject.toml`` files allow
(77.0.x: PEP 639's ``license = "BSD-3-Clause"`` fails to build on 70 and 76).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

#: The smoke subset run on the oldest pins: the estimators' API and scikit-learn's
#: estimator checks, model files, ensembles (joblib, threadpoolctl), faults, errors.
SMOKE_TESTS = ("test_mlp_api.py", "test_estimator_checks.py", "test_io.py",
               "test_ensemble.py", "test_faults.py", "test_exceptions.py")

#: pip output that means the index could not be reached (then the test skips)
_OFFLINE = re.compile(r"NewConnectionError|Max retries exceeded|Temporary failure in name "
                      r"resolution|Network is unreachable|ProxyError|ConnectTimeoutError")

PIP_TIMEOUT = 900
SMOKE_TIMEOUT = 600
CLI_TIMEOUT = 180


def minimum_pins() -> dict[str, str]:
    """``{name: minimum}`` for every runtime dependency of pyproject.toml.

    Returns
    -------
    dict
        Each dependency's name and the version of its ``>=`` bound.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)", requirement)
        assert match, f"{requirement!r} has no plain '>=' minimum to test"
        pins[match[1]] = match[2]
    return pins


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args: list[str], *, timeout: float, cwd: Path, what: str
         ) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, cwd=cwd, env=_clean_env(), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{what} did not finish in {timeout:.0f} s: {' '.join(args)}\n"
                    f"{exc.stdout or ''}{exc.stderr or ''}")


def _install(python: Path, args: list[str], cwd: Path, what: str) -> None:
    proc = _run([str(python), "-m", "pip", "install", "-q", *args],
                timeout=PIP_TIMEOUT, cwd=cwd, what=what)
    if proc.returncode != 0:
        output = proc.stdout + proc.stderr
        if _OFFLINE.search(output):
            pytest.skip(f"cannot download the packages for {what}: the index is not "
                        "reachable")
        pytest.fail(f"{what} failed to install:\n{output[-4000:]}")


@pytest.fixture(scope="module")
def oldest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a fresh venv holding the minimum pins and ensemblekit."""
    base = tmp_path_factory.mktemp("minimum-versions")
    venv.EnvBuilder(with_pip=True, clear=True).create(base / "venv")
    python = base / "venv" / "bin" / "python"
    pins = minimum_pins()
    _install(python, [f"{name}=={version}" for name, version in pins.items()] + ["pytest"],
             base, "the minimum pins")
    # a copy of the source, so that building the package writes nothing into the repository
    source = base / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    shutil.copytree(ROOT / "ensemblekit", source / "ensemblekit", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    _install(python, ["--no-deps", str(source)], base, "ensemblekit")
    return python


def test_the_venv_holds_exactly_the_minimums(oldest: Path) -> None:
    pins = minimum_pins()
    script = ("import importlib.metadata as m, json, sys, ensemblekit; print(json.dumps("
              "{'location': ensemblekit.__file__, "
              "'versions': {n: m.version(n) for n in sys.argv[1:]}}))")
    proc = _run([str(oldest), "-c", script, *sorted(pins)], timeout=120, cwd=oldest.parents[2],
                what="the version report")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["location"].startswith(str(oldest.parents[1])), report["location"]
    assert {n: Version(v) for n, v in report["versions"].items()} == {
        n: Version(v) for n, v in pins.items()}


def test_smoke_subset_passes_on_the_minimums(oldest: Path) -> None:
    tests = [str(ROOT / "tests" / name) for name in SMOKE_TESTS]
    proc = _run([str(oldest), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 *tests],
                timeout=SMOKE_TIMEOUT, cwd=oldest.parents[2], what="the smoke subset")
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, tail
    assert re.search(r"\d+ passed", proc.stdout), tail


def test_command_line_trains_on_the_minimums(oldest: Path) -> None:
    work = oldest.parents[2]
    proc = _run([str(oldest), "-m", "ensemblekit", "train", "--max-iter", "20",
                 "--random-state", "0", "--out", "model.ekm"],
                timeout=CLI_TIMEOUT, cwd=work, what="ensemblekit train")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "digits (bundled)" in proc.stdout and "accuracy" in proc.stdout, proc.stdout
    load = _run([str(oldest), "-c", "import ensemblekit; "
                 "print(type(ensemblekit.load('model.ekm')).__name__)"],
                timeout=120, cwd=work, what="loading the model")
    assert load.returncode == 0, load.stderr
    assert load.stdout.strip() == "Pipeline", load.stdout


# --------------------------------------------------------------------------
# the build requirement: PEP 639 ``license = "BSD-3-Clause"`` needs setuptools 77
# --------------------------------------------------------------------------
PYPROJECTS = (ROOT / "pyproject.toml", *sorted((ROOT / "plugins").glob("*/pyproject.toml")))


def minimum_setuptools() -> str:
    """The ``setuptools>=`` bound every pyproject.toml of the repository declares.

    Returns
    -------
    str
        The minimum version (one for all of them: the test fails otherwise).
    """
    bounds = set()
    for path in PYPROJECTS:
        requires = tomllib.loads(path.read_text())["build-system"]["requires"]
        (match,) = [re.fullmatch(r"setuptools\s*>=\s*([0-9.]+)", r) for r in requires]
        assert match, f"{path}: {requires!r} has no plain 'setuptools>=' minimum"
        bounds.add(match[1])
    assert len(bounds) == 1, f"the pyproject.toml files disagree: {sorted(bounds)}"
    return bounds.pop()


def test_the_build_requirement_is_enough_for_the_license_expression() -> None:
    assert Version(minimum_setuptools()) >= Version("77")  # PEP 639 support
    for path in PYPROJECTS:
        assert tomllib.loads(path.read_text())["project"]["license"] == "BSD-3-Clause"


@pytest.mark.parametrize("what", ["ensemblekit", "ensemblekit-maxnorm"])
def test_builds_with_the_minimum_setuptools(what: str, tmp_path: Path) -> None:
    minimum = Version(minimum_setuptools())
    venv.EnvBuilder(with_pip=True, clear=True).create(tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    series = f"{minimum.major}.{minimum.minor}.*"  # the oldest release series allowed
    _install(python, [f"setuptools=={series}"], tmp_path, f"setuptools {series}")
    # a copy of the source, so that building writes nothing into the repository
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "tests")
    if what == "ensemblekit":
        shutil.copytree(ROOT / "ensemblekit", source / "ensemblekit", ignore=ignore)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, source / name)
    else:
        shutil.copytree(ROOT / "plugins" / what, source, ignore=ignore)
    proc = _run([str(python), "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                 "-w", str(tmp_path / "dist"), str(source)],
                timeout=PIP_TIMEOUT, cwd=tmp_path, what=f"building {what}")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    version = _run([str(python), "-c", "import setuptools; print(setuptools.__version__)"],
                   timeout=60, cwd=tmp_path, what="the setuptools version").stdout.strip()
    assert Version(version).release[:2] == (minimum.major, minimum.minor), version
    (wheel,) = (tmp_path / "dist").glob(f"{what.replace('-', '_')}-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        (metadata,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        assert "License-Expression: BSD-3-Clause" in zf.read(metadata).decode()
