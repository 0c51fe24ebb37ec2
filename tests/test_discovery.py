"""Plugin discovery with real (on-disk) distributions: broken plugins, switches, state guard.

Each test writes plugin modules and ``*.dist-info`` folders (METADATA +
entry_points.txt) to a temporary directory on ``sys.path``:
``importlib.metadata`` finds them exactly as it finds pip-installed
distributions.
"""

import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from forge import craft, read_parts
from sklearn.datasets import load_iris

import ensemblekit
import ensemblekit.plugins as plugins_module
from ensemblekit import (
    Dropout,
    MLPClassifier,
    Plugin,
    PluginError,
    PluginLoadWarning,
    WeightDecay,
    hookimpl,
)
from ensemblekit.cli import cli
from ensemblekit.plugins import build_registry, set_registry
from ensemblekit.testing import isolated_registry

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GOOD = '''
from ensemblekit import Plugin, hookimpl

class Good(Plugin):
    name = "good"

    def __init__(self, scale=1.0):
        self.scale = scale

    @hookimpl
    def ensemblekit_after_step(self, estimator):
        for W in estimator.coefs_:
            W *= self.scale

@hookimpl
def ensemblekit_register_plugins(register):
    register("good", Good)
'''

BROKEN = {
    "import_error": "import numpy_extras_that_do_not_exist\n",
    "bad_signature": '''
from ensemblekit import hookimpl

@hookimpl
def ensemblekit_register_plugins(register, registry):
    pass
''',
    "misspelled": '''
from ensemblekit import hookimpl

@hookimpl
def ensemblekit_register_plugin(register):
    pass
''',
    "raising": '''
from ensemblekit import Plugin, hookimpl

class Half(Plugin):
    name = "half"

@hookimpl
def ensemblekit_register_plugins(register):
    register("half", Half)
    raise RuntimeError("config file missing")
''',
    "duplicate": '''
from ensemblekit import Plugin, hookimpl

class MyDropout(Plugin):
    name = "dropout"

@hookimpl
def ensemblekit_register_plugins(register):
    register("dropout", MyDropout)
''',
    "not_a_plugin": '''
from ensemblekit import hookimpl

@hookimpl
def ensemblekit_register_plugins(register):
    register("thing", dict)
''',
    "sys_exit": "import sys\nsys.exit(3)\n",
    "base_exception": '''
class Fatal(BaseException):
    pass

raise Fatal("no licence server")
''',
}

MESSAGES = {
    "import_error": "ModuleNotFoundError: No module named 'numpy_extras_that_do_not_exist'",
    "bad_signature": "registry",
    "misspelled": "unknown hook 'ensemblekit_register_plugin'",
    "raising": "RuntimeError: config file missing",
    "duplicate": "plugin name 'dropout' is registered twice: by ensemblekit and by "
                 "ensemblekit-duplicate",
    "not_a_plugin": "plugin 'thing' must be a subclass of ensemblekit.Plugin",
    "sys_exit": "SystemExit: 3",
    "base_exception": "Fatal: no licence server",
}


@pytest.fixture
def site(tmp_path, monkeypatch):
    """Install fake distributions into a fresh directory on sys.path."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def install(kind: str, source: str) -> str:
        dist = f"ensemblekit-{kind.replace('_', '-')}"
        module = f"ekfake_{kind}_{tmp_path.name.replace('-', '_')}"
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[ensemblekit]\n{kind} = {module}\n")
        written.append(module)
        importlib.invalidate_caches()
        return dist

    yield install
    for module in written:
        sys.modules.pop(module, None)


def _fake_entry_points():
    return [ep for ep in importlib.metadata.entry_points(group="ensemblekit")
            if ep.value.startswith("ekfake_")]


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_distribution_is_skipped_by_name(site, kind):
    site("good", GOOD)
    dist = site(kind, BROKEN[kind])
    with pytest.warns(PluginLoadWarning) as record:
        registry = build_registry(entry_points=_fake_entry_points())
    messages = [str(w.message) for w in record]
    assert len(messages) == 1
    assert f"plugin {kind!r} from distribution {dist!r} failed to load" in messages[0]
    assert MESSAGES[kind] in messages[0]
    assert registry.failures == [{"name": kind, "distribution": dist,
                                  "error": messages[0].split("skipped: ")[1]}]
    # the built-ins and the other distribution still work, nothing half-registered
    assert registry.plugins["dropout"] is Dropout
    assert registry.plugins["weight_decay"] is WeightDecay
    assert registry.sources["good"] == ("ensemblekit-good", "1.0")
    assert "half" not in registry.plugins and "thing" not in registry.plugins


def test_the_others_still_train_by_name(site):
    site("good", GOOD)
    for kind in BROKEN:
        site(kind, BROKEN[kind])
    X, y = load_iris(return_X_y=True)
    with pytest.warns(PluginLoadWarning):
        with isolated_registry(_fake_entry_points()) as registry:
            assert len(registry.failures) == len(BROKEN)
            clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0,
                                plugins=["good", "dropout"])
            clf.set_params(plugins__good__scale=0.5).fit(X, y)
    assert type(clf.plugins_[0][1]).__name__ == "Good"
    assert clf.plugins_[0][1].scale == 0.5


def test_strict_mode_raises_naming_the_distribution(site, monkeypatch):
    site("import_error", BROKEN["import_error"])
    monkeypatch.setenv("ENSEMBLEKIT_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="plugin 'import_error' from distribution "
                                          "'ensemblekit-import-error' failed to load"):
        build_registry(entry_points=_fake_entry_points())


def test_autoload_of_installed_distributions_and_its_switches(site, monkeypatch):
    site("good", GOOD)
    site("duplicate", BROKEN["duplicate"])
    with pytest.warns(PluginLoadWarning, match="registered twice"):
        assert "good" in build_registry().plugins  # found among installed distributions
    monkeypatch.setenv("ENSEMBLEKIT_LOAD_PLUGINS", "ensemblekit-good, l1")  # dist or name
    allowed = build_registry()
    assert {"good", "l1"} <= set(allowed.plugins) and not allowed.failures
    assert "maxnorm" not in allowed.plugins
    monkeypatch.setenv("ENSEMBLEKIT_LOAD_PLUGINS", "")
    assert build_registry().names() == build_registry(entry_points=[]).names()
    monkeypatch.delenv("ENSEMBLEKIT_LOAD_PLUGINS")
    monkeypatch.setenv("ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "good" not in build_registry().plugins
    monkeypatch.setenv("ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD", "0")  # "0" means off
    with pytest.warns(PluginLoadWarning):
        assert "good" in build_registry().plugins


def test_disable_autoload_hides_an_installed_package_in_a_new_process():
    code = ("from ensemblekit import get_registry; r = get_registry(); "
            "print(sorted(r.plugins)); print(r.failures)")
    env = {**os.environ, "ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD": "1"}
    off = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert "'dropout'" in off and "'weight_decay'" in off
    assert "'l1'" not in off and "'maxnorm'" not in off
    from ensemblekit import get_registry
    assert "l1" in get_registry().plugins  # installed, and found without the switch


def test_tracing_prints_hook_calls(monkeypatch, capsys):
    monkeypatch.setenv("ENSEMBLEKIT_TRACE_PLUGINS", "1")
    X, y = load_iris(return_X_y=True)
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, plugins=[WeightDecay()]).fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1  # one epoch, one batch of 150 rows: one penalty call
    assert lines[0].startswith("ensemblekit: ensemblekit_penalty(estimator=<MLPClassifier>, "
                               "coefs=<list of 2>, ")
    assert lines[0].endswith("n_samples=150) -> weight_decay")


# --------------------------------------------------------------------------
# training-time contract: bad signatures and state a plugin must not change
# --------------------------------------------------------------------------
class _BadArgument(Plugin):
    name = "badarg"

    @hookimpl
    def ensemblekit_after_step(self, estimator, weights):
        pass


def test_bad_hook_argument_is_a_plugin_error():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(PluginError, match=r"(?s)plugin 'badarg' implements a hook with "
                                          r"arguments its specification does not have.*"
                                          r"weights"):
        MLPClassifier(plugins=[_BadArgument()]).fit(X, y)
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, plugins=[Dropout()]).fit(X, y)


class _Vandal(Plugin):
    """Does one forbidden thing to the training state, chosen by ``act``."""

    name = "vandal"

    def __init__(self, act="resize"):
        self.act = act

    @hookimpl
    def ensemblekit_after_step(self, params):
        if self.act == "resize":
            params[0].shape = (-1,)
        elif self.act == "retype":
            params[1].dtype = np.int64

    @hookimpl
    def ensemblekit_before_step(self, grads):
        if self.act == "append":
            grads.append(np.zeros(3))

    @hookimpl
    def ensemblekit_penalty(self, coef_grads):
        if self.act == "rebind_grad":
            coef_grads[0] = coef_grads[0] + 1.0  # the gradient would be silently lost
        return 0.0

    @hookimpl
    def ensemblekit_forward_hidden(self, activation):
        if self.act == "resize_activation":
            activation.shape = (activation.size,)

    @hookimpl
    def ensemblekit_batch_start(self, X):
        if self.act == "resize_batch":
            X.shape = (X.size,)
        elif self.act == "retype_batch":  # reinterprets the batch's bytes
            X.dtype = np.int64


@pytest.mark.parametrize("act, solver, match", [
    ("resize", "sgd", r"ensemblekit_after_step resized params\[0\] from \(4, 5\) to \(20,\)"),
    ("retype", "adam", r"ensemblekit_after_step changed the dtype of params\[1\] from "
                       r"float64 to int64"),
    ("append", "sgd", r"ensemblekit_before_step replaced a parameter or gradient array: "
                      r"the list grads now holds 5 arrays instead of 4"),
    ("rebind_grad", "adam", r"ensemblekit_penalty replaced a parameter or gradient array: "
                            r"coef_grads\[0\] was rebound"),
    ("rebind_grad", "lbfgs", r"ensemblekit_penalty replaced a parameter or gradient array: "
                             r"coef_grads\[0\] was rebound"),
    ("resize_activation", "sgd", r"ensemblekit_forward_hidden resized activation"),
    ("resize_batch", "adam", r"ensemblekit_batch_start resized X from \(150, 4\) to \(600,\)"),
    ("retype_batch", "adam", r"ensemblekit_batch_start changed the dtype of X from float64 "
                             r"to int64"),
])
def test_changing_training_state_is_a_clear_error(act, solver, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(PluginError, match=r"plugin 'vandal' changed training state it must "
                                          r"not: " + match):
        MLPClassifier(hidden_layer_sizes=(5,), solver=solver, max_iter=3, alpha=0.0,
                      plugins=[_Vandal(act)]).fit(X, y)


def test_state_change_with_several_implementations_names_them_all():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(PluginError, match=r"one of the plugins implementing "
                                          r"ensemblekit_penalty \('vandal', 'weight_decay'\)"):
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, alpha=1e-3,
                      plugins=[_Vandal("rebind_grad")]).fit(X, y)


# --------------------------------------------------------------------------
# isolation from everything a plugin's import can do (issue 15, item 7)
# --------------------------------------------------------------------------
@pytest.fixture
def fresh_registry():
    """The process-wide registry rebuilt from what is installed, then restored."""
    previous = set_registry(None)
    yield
    set_registry(previous)


@pytest.mark.parametrize("kind", ["sys_exit", "base_exception"])
def test_cli_and_fit_survive_a_plugin_that_exits_at_import(site, fresh_registry, kind):
    site("good", GOOD)
    dist = site(kind, BROKEN[kind])
    with pytest.warns(PluginLoadWarning, match=f"from distribution {dist!r} failed to load"):
        result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert [f["distribution"] for f in listing["failures"]] == [dist]
    assert "good" in {row["name"] for row in listing["plugins"]}
    set_registry(None)
    X, y = load_iris(return_X_y=True)
    with pytest.warns(PluginLoadWarning, match=MESSAGES[kind]):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, plugins=["good"]).fit(X, y)


def test_ctrl_c_during_a_plugin_import_is_not_swallowed(site):
    site("interrupted", "raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        build_registry(entry_points=_fake_entry_points())


def test_a_slow_plugin_import_is_named_on_stderr(site, monkeypatch, capsys):
    dist = site("slow", "import time\ntime.sleep(0.8)\n")
    monkeypatch.setenv("ENSEMBLEKIT_PLUGIN_IMPORT_WARN_SECONDS", "0.2")
    registry = build_registry(entry_points=_fake_entry_points())
    assert not registry.failures  # slow is not broken: it loads, and is named
    err = capsys.readouterr().err
    assert (f"importing plugin 'slow' from distribution {dist!r} has taken more than 0.2 s "
            "(ENSEMBLEKIT_PLUGIN_IMPORT_WARN_SECONDS)") in err
    assert "time.sleep(0.8)" in err  # where it is stuck


def test_a_fast_import_says_nothing(site, monkeypatch, capsys):
    site("good", GOOD)
    monkeypatch.setenv("ENSEMBLEKIT_PLUGIN_IMPORT_WARN_SECONDS", "5")
    build_registry(entry_points=_fake_entry_points())
    assert capsys.readouterr().err == ""


def test_plugins_no_import_reads_metadata_only(site, fresh_registry, tmp_path):
    marker = tmp_path / "imported.txt"
    dist = site("noisy", f"open({str(marker)!r}, 'w').close()\n" + GOOD)
    module = next(ep.value for ep in _fake_entry_points() if ep.name == "noisy")
    result = CliRunner().invoke(cli, ["plugins", "--no-import", "--json"])
    assert result.exit_code == 0, result.output
    entries = {e["name"]: e for e in json.loads(result.stdout)["entry_points"]}
    assert entries["noisy"] == {"name": "noisy", "distribution": dist, "version": "1.0",
                                "module": module}
    assert entries["dropout"]["distribution"] == "ensemblekit"
    text = CliRunner().invoke(cli, ["plugins", "--no-import"]).stdout
    assert any(line.split()[:3] == ["noisy", dist, "1.0"] for line in text.splitlines())
    assert not marker.exists() and module not in sys.modules


# --------------------------------------------------------------------------
# provenance in model files; loading imports only what a file names (item 5)
# --------------------------------------------------------------------------
def _plugin_entries(value):
    """Every plugin entry of a parsed model.json, wherever it is nested."""
    if isinstance(value, dict):
        if value.get("$") == "plugin":
            yield value
        for v in value.values():
            yield from _plugin_entries(v)
    elif isinstance(value, list):
        for v in value:
            yield from _plugin_entries(v)


def _trained(plugins):
    X, y = load_iris(return_X_y=True)
    return MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0,
                         plugins=plugins).fit(X, y), X


def _saved_with_good(site, path):
    """Train with the fake "good" and a WeightDecay, save to ``path``; model, X, parts."""
    site("good", GOOD)
    with isolated_registry(_fake_entry_points()):
        clf, X = _trained(["good", WeightDecay()])
        ensemblekit.save(clf, path)
    return clf, X, *read_parts(path)


def test_model_files_record_each_plugins_distribution(site, tmp_path):
    document = _saved_with_good(site, tmp_path / "m.ekm")[2]
    sources = {e["name"]: (e["distribution"], e["version"])
               for e in _plugin_entries(document)}
    assert sources == {"good": ("ensemblekit-good", "1.0"),
                       "weight_decay": ("ensemblekit", ensemblekit.__version__)}


def test_loading_imports_only_the_plugins_the_file_names(site, fresh_registry, tmp_path):
    marker = tmp_path / "imported.txt"
    site("good", GOOD)
    site("noisy", f"open({str(marker)!r}, 'w').close()\n")
    modules = {ep.name: ep.value for ep in _fake_entry_points()}
    builtin_only, X = _trained([WeightDecay()])
    ensemblekit.save(builtin_only, tmp_path / "wd.ekm")
    ensemblekit.save(_trained(["good"])[0], tmp_path / "good.ekm")  # full discovery
    assert marker.exists()
    marker.unlink()
    for module in modules.values():
        sys.modules.pop(module)
    set_registry(None)

    loaded = ensemblekit.load(tmp_path / "wd.ekm")
    np.testing.assert_array_equal(loaded.predict(X), builtin_only.predict(X))
    assert not marker.exists() and modules["good"] not in sys.modules
    assert plugins_module._REGISTRY is None  # the full registry was never built

    assert type(ensemblekit.load(tmp_path / "good.ekm").plugins_[0][1]).__name__ == "Good"
    assert modules["good"] in sys.modules  # its own distribution, and only that one
    assert not marker.exists() and modules["noisy"] not in sys.modules


def test_a_missing_plugin_says_what_to_install(site, fresh_registry, tmp_path):
    site("good", GOOD)
    clf, _ = _trained(["good"])
    ensemblekit.save(clf, tmp_path / "m.ekm")
    document, arrays = read_parts(tmp_path / "m.ekm")
    for entry in _plugin_entries(document):
        entry.update(name="orthoreg", distribution="ensemblekit-orthoreg", version="0.1.3")
    craft(tmp_path / "moved.ekm", document, arrays)
    set_registry(None)
    with pytest.raises(ValueError, match="plugin 'orthoreg' is not installed: pip install "
                                         "'ensemblekit-orthoreg>=0.1'"):
        ensemblekit.load(tmp_path / "moved.ekm")


def test_files_without_provenance_still_load(site, tmp_path):
    clf, X, document, arrays = _saved_with_good(site, tmp_path / "m.ekm")
    for entry in _plugin_entries(document):
        del entry["distribution"], entry["version"]
    craft(tmp_path / "old.ekm", document, arrays)
    with isolated_registry(_fake_entry_points()):
        np.testing.assert_array_equal(ensemblekit.load(tmp_path / "old.ekm").predict(X),
                                      clf.predict(X))
