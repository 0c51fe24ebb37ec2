"""The package type-checks: ``mypy ensemblekit`` passes with the project's configuration.

The configuration (``[tool.mypy]`` in ``pyproject.toml``) ignores missing
imports only for the third-party packages that ship no types.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ensemblekit import hookspecs
from ensemblekit.plugins import ENSEMBLE_HOOKS, TRAINING_HOOKS, EnsembleHooks, Hooks

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


def _declared(cls: type) -> set[str]:
    return {name for name in cls.__annotations__ if not name.startswith("_")}


def _short(hooks: tuple[str, ...]) -> set[str]:
    return {hook[len("ensemblekit_"):] for hook in hooks}


def test_hooks_declares_every_training_hook() -> None:
    # Hooks sets one attribute per training hook at runtime; its annotations are
    # what mypy checks the training loop's calls against
    assert _declared(Hooks) == _short(TRAINING_HOOKS)


def test_ensemble_hooks_declares_every_ensemble_hook() -> None:
    assert _declared(EnsembleHooks) == _short(ENSEMBLE_HOOKS)


def test_the_two_lists_split_the_per_fit_hook_specs() -> None:
    specs = {name for name in dir(hookspecs) if name.startswith("ensemblekit_")}
    assert set(TRAINING_HOOKS) | set(ENSEMBLE_HOOKS) == specs - {"ensemblekit_register_plugins"}
    assert not set(TRAINING_HOOKS) & set(ENSEMBLE_HOOKS)
    assert {"ensemblekit_combine", "ensemblekit_sample_member", "ensemblekit_prepare_runs",
            "ensemblekit_check_ensemble", "ensemblekit_collect_members",
            "ensemblekit_member_outputs"} == set(ENSEMBLE_HOOKS)


def test_a_fit_wires_only_training_hooks_and_an_ensemble_only_its_own() -> None:
    from ensemblekit.default_plugins.combiners import Mean
    from ensemblekit.default_plugins.dropout import Dropout

    plugins = [("mean", Mean()), ("dropout", Dropout(0.2))]
    training, ensemble = Hooks(plugins), EnsembleHooks(plugins)
    assert training.forward_hidden is not None and ensemble.combine is not None
    assert not hasattr(training, "combine") and not hasattr(ensemble, "forward_hidden")
    assert Hooks([]).any is False and EnsembleHooks([("dropout", Dropout())]).any is False
