"""The package type-checks: ``mypy ensemblekit`` passes with the project's configuration.

The configuration (``[tool.mypy]`` in ``pyproject.toml``) ignores missing
imports only for the third-party packages that ship no types.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ensemblekit.plugins import _TRAINING_HOOKS, Hooks

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_passes(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    stdout, stderr, status = api.run([
        "--config-file", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(tmp_path / "mypy_cache"),
        str(ROOT / "ensemblekit"),
    ])
    assert status == 0, f"mypy failed:\n{stdout}{stderr}"
    assert stdout.rstrip().splitlines()[-1].startswith("Success"), stdout


def test_hooks_declares_every_training_hook() -> None:
    # Hooks sets one attribute per training hook at runtime; its annotations are
    # what mypy checks the training loop's calls against
    declared = {name for name in Hooks.__annotations__ if not name.startswith("_")}
    assert declared == {hook[len("ensemblekit_"):] for hook in _TRAINING_HOOKS}
