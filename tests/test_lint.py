"""The checkout is ruff-clean with the configuration in ``[tool.ruff]`` of ``pyproject.toml``.

ruff comes with the ``test`` extra; running it here makes CI (which runs the test
suite) the place a lint error is caught, as ``tests/test_typing.py`` does for mypy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def ruff_available() -> None:
    pytest.importorskip("ruff")


def test_ruff_passes(ruff_available: None) -> None:
    result = _ruff(str(ROOT))
    assert result.returncode == 0, f"ruff failed:\n{result.stdout}{result.stderr}"


def test_ruff_reports_a_planted_error(ruff_available: None, tmp_path: Path) -> None:
    # the check can fail: an unused import in a file under the same configuration
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    result = _ruff("--config", str(ROOT / "pyproject.toml"), str(bad))
    assert result.returncode == 1 and "F401" in result.stdout, result.stdout + result.stderr
