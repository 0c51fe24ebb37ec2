"""Meta-tests (datasette's): every hook is exercised by a real fit and documented.

Adding a hook to ``ensemblekit/hookspecs.py`` without implementing it in one of
the recording plugins below, or without a section in the hook reference
(``docs/hooks.rst`` / ``docs/hooks.md``), fails here.
"""

import inspect
import pathlib
import re
import runpy

import numpy as np
import pytest
from sklearn.datasets import load_iris

from ensemblekit import EnsembleClassifier, MLPClassifier, Plugin, hookimpl, hookspecs
from ensemblekit.plugins import build_registry

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DOCS = pathlib.Path(__file__).parents[1] / "docs"
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("ensemblekit_"))


def _spec_args(hook: str) -> list[str]:
    return list(inspect.signature(getattr(hookspecs, hook)).parameters)


class _Recorder(Plugin):
    """Records the keyword arguments of every call of every hook it implements."""

    name = "recorder"

    def _record(self, hook, **kwargs):
        self.__dict__.setdefault("calls_", {}).setdefault(hook, []).append(kwargs)


def _recording_plugin(hooks: list[str], returns: dict | None = None) -> type:
    """A Plugin class implementing ``hooks``, each taking all of its spec's arguments."""
    namespace = {}
    for hook in hooks:
        args = ", ".join(_spec_args(hook))
        body = (f"def {hook}(self, {args}):\n"
                f"    self._record({hook!r}, {', '.join(f'{a}={a}' for a in _spec_args(hook))})\n"
                f"    return RETURNS.get({hook!r}, lambda **kw: None)"
                f"({', '.join(f'{a}={a}' for a in _spec_args(hook))})\n")
        scope = {"RETURNS": returns or {}}
        exec(body, scope)  # noqa: S102 - builds a method with the spec's exact signature
        namespace[hook] = hookimpl(scope[hook])
    return type("Recording", (_Recorder,), namespace)


TRAINING = ["ensemblekit_fit_start", "ensemblekit_fit_end", "ensemblekit_epoch_start",
            "ensemblekit_epoch_end", "ensemblekit_batch_start", "ensemblekit_batch_end",
            "ensemblekit_should_stop", "ensemblekit_forward_hidden",
            "ensemblekit_backward_hidden", "ensemblekit_predict_hidden",
            "ensemblekit_penalty", "ensemblekit_before_step", "ensemblekit_after_step",
            "ensemblekit_learning_rate"]
ENSEMBLE = ["ensemblekit_check_ensemble", "ensemblekit_prepare_runs",
            "ensemblekit_sample_member", "ensemblekit_collect_members",
            "ensemblekit_member_outputs", "ensemblekit_combine"]
DISCOVERY = ["ensemblekit_register_plugins"]


def test_every_hook_has_a_test():
    untested = sorted(set(HOOKS) - set(TRAINING) - set(ENSEMBLE) - set(DISCOVERY))
    assert not untested, (f"hooks without a test: {untested}; exercise them in "
                          "tests/test_plugins_hook_coverage.py")
    assert not set(TRAINING + ENSEMBLE + DISCOVERY) - set(HOOKS), "stale hook names here"


@pytest.fixture(scope="module")
def recorded():
    """One real fit (sgd, 2 epochs of 3 batches, 2 hidden layers) and one predict."""
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(5, 3), solver="sgd", batch_size=64, max_iter=2,
                        alpha=0.0, random_state=0,
                        plugins=[_recording_plugin(TRAINING, {
                            "ensemblekit_penalty": lambda **kw: 0.0})()])
    clf.fit(X, y)
    clf.predict(X[:10])
    return clf, clf.plugins_[0][1].calls_


def test_every_training_hook_is_called_with_the_documented_arguments(recorded):
    clf, calls = recorded
    assert set(calls) == set(TRAINING)
    for hook, hook_calls in calls.items():
        for kwargs in hook_calls:
            assert list(kwargs) == _spec_args(hook)
            if "estimator" in kwargs:
                assert kwargs["estimator"] is clf
    n_batches, n_epochs, widths = 3, 2, [5, 3]
    (start,) = calls["ensemblekit_fit_start"]
    assert isinstance(start["rng"], np.random.Generator)
    assert start["n_samples"] == 150 and start["dtype"] == np.float64
    assert len(calls["ensemblekit_fit_end"]) == 1
    assert [c["epoch"] for c in calls["ensemblekit_epoch_start"]] == [0, 1]
    for hook in ("ensemblekit_epoch_end", "ensemblekit_should_stop"):
        assert [c["epoch"] for c in calls[hook]] == [0, 1]
        assert [c["record"] for c in calls[hook]] == clf.history_
    assert [c["batch"] for c in calls["ensemblekit_batch_start"]] == [0, 1, 2] * n_epochs
    steps = list(range(n_batches * n_epochs))  # global counters
    for hook in ("ensemblekit_learning_rate", "ensemblekit_batch_start",
                 "ensemblekit_before_step", "ensemblekit_after_step", "ensemblekit_batch_end"):
        assert [c["step"] for c in calls[hook]] == steps
    for hook in ("ensemblekit_epoch_start", "ensemblekit_epoch_end"):
        assert [c["global_epoch"] for c in calls[hook]] == [0, 1]
    rates = calls["ensemblekit_learning_rate"]
    assert [c["global_epoch"] for c in rates] == [0] * n_batches + [1] * n_batches
    assert {(c["steps_per_epoch"], c["learning_rate_init"]) for c in rates} == {(3, 0.001)}
    assert clf.n_steps_ == 6 and clf.n_epochs_ == 2
    for c in calls["ensemblekit_batch_start"]:
        assert c["X"].shape[1] == 4 and c["y"].shape == (c["X"].shape[0], 3)
    assert all(np.isfinite(c["loss"]) for c in calls["ensemblekit_batch_end"])
    forward = calls["ensemblekit_forward_hidden"]
    assert [c["layer"] for c in forward] == [0, 1] * n_batches * n_epochs
    assert all(c["activation"].shape[1] == widths[c["layer"]] for c in forward)
    backward = calls["ensemblekit_backward_hidden"]
    assert [c["layer"] for c in backward] == [1, 0] * n_batches * n_epochs
    assert all(c["delta"].shape[1] == widths[c["layer"]] for c in backward)
    predict = calls["ensemblekit_predict_hidden"]  # fit's check of its last step (one
    # batch of 64 rows), then predict's 10 rows
    assert [(c["layer"], c["activation"].shape) for c in predict] == [
        (0, (64, 5)), (1, (64, 3)), (0, (10, 5)), (1, (10, 3))]
    for c in calls["ensemblekit_penalty"]:
        assert [g.shape for g in c["coef_grads"]] == [W.shape for W in c["coefs"]]
        assert [g.shape for g in c["intercept_grads"]] == [b.shape for b in c["intercepts"]]
        assert c["n_samples"] in (64, 22)
    for hook in ("ensemblekit_before_step", "ensemblekit_after_step"):
        assert len(calls[hook]) == n_batches * n_epochs
        for c in calls[hook]:
            assert len(c["params"]) == 6  # 3 weight matrices, 3 bias vectors
    for c in calls["ensemblekit_before_step"]:
        assert [g.shape for g in c["grads"]] == [p.shape for p in c["params"]]


def test_every_ensemble_hook_is_called_with_the_documented_arguments():
    X, y = load_iris(return_X_y=True)
    combiner = _recording_plugin(ENSEMBLE, {
        "ensemblekit_combine": lambda outputs, **kw: outputs.mean(axis=0)})()
    member = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    ens = EnsembleClassifier(member, n_estimators=2, combiner=combiner, random_state=0)
    ens.fit(X, y)
    proba = ens.predict_proba(X[:5])
    calls = ens.combiner_.calls_
    assert set(calls) == set(ENSEMBLE)
    for hook, hook_calls in calls.items():
        for kwargs in hook_calls:
            assert list(kwargs) == _spec_args(hook)
            assert kwargs["estimator"] is ens
    assert calls["ensemblekit_check_ensemble"][0]["n_members"] == 2
    assert calls["ensemblekit_prepare_runs"][0]["n_estimators"] == 2
    assert [c["run"] for c in calls["ensemblekit_sample_member"]] == [0, 1]
    assert calls["ensemblekit_collect_members"][0]["runs"] == ens.estimators_
    assert calls["ensemblekit_member_outputs"][0]["members"] == ens.estimators_
    assert calls["ensemblekit_combine"][-1]["outputs"].shape == (2, 5, 3)
    assert proba.shape == (5, 3)


def test_the_discovery_hook_is_called_with_register(tmp_path, monkeypatch):
    seen = []

    class Module:
        @staticmethod
        @hookimpl
        def ensemblekit_register_plugins(register):
            seen.append(register)
            register("recorder", _Recorder)

    monkeypatch.setattr("importlib.metadata.EntryPoint.load", lambda self: Module)
    import importlib.metadata

    ep = importlib.metadata.EntryPoint("recorder", "recorder_module", "ensemblekit")
    registry = build_registry(entry_points=[ep])
    assert len(seen) == 1 and callable(seen[0])
    assert registry.plugins["recorder"] is _Recorder


def _hook_reference() -> tuple[pathlib.Path, str]:
    """The hook reference as Sphinx reads it (with sections docs/conf.py generates)."""
    for name in ("hooks.rst", "hooks.md"):
        path = DOCS / name
        if path.exists():
            text = path.read_text()
            conf = runpy.run_path(str(DOCS / "conf.py")) if (DOCS / "conf.py").exists() else {}
            if "HOOK_SECTIONS_MARKER" in conf and "hook_sections" in conf:
                text = text.replace(conf["HOOK_SECTIONS_MARKER"], conf["hook_sections"]())
            return path, text
    pytest.skip("no hook reference yet (docs/hooks.rst or docs/hooks.md is written by "
                "the documentation work)")


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_documented_section_matching_its_spec(hook):
    path, text = _hook_reference()
    heading = re.search(rf"^(#+ *`?{hook}`?\s*$|{hook}\n[~=\-^]{{{len(hook)}}}\s*$)", text,
                        re.MULTILINE)
    assert heading, f"{path.name} has no section titled {hook}"
    section = text[heading.end():]
    following = re.search(r"^(#+ |\S[^\n]*\n[~=\-^]{3,}\s*$)", section, re.MULTILINE)
    section = section[:following.start()] if following else section
    autodoc = re.search(rf"(\.\. autofunction::|```\{{autofunction\}}) *"
                        rf"(ensemblekit\.hookspecs\.)?{hook}\b", section)
    if autodoc:  # the signature is generated from the spec itself
        return
    signature = f"{hook}({', '.join(_spec_args(hook))})"
    assert signature in section, (f"the {hook} section of {path.name} neither autodocs "
                                  f"the spec nor shows its signature {signature}")


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_spec_documents_each_argument(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert "\nParameters\n----------\n" in doc, f"{hook} has no Parameters section"
    params = doc.split("\nParameters\n----------\n")[1].split("\n\n" + "Returns")[0]
    documented = re.findall(r"^(\w+) :", params, re.MULTILINE)
    assert documented == _spec_args(hook), (f"{hook} documents {documented}, its signature "
                                            f"has {_spec_args(hook)}")
