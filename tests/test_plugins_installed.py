"""The plugins/ distributions, installed, used by their registered names everywhere.

Requires ``pip install ./plugins/*/`` (the README's test command does it).
"""

import json
from importlib.metadata import version

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from ensemblekit import EnsembleClassifier, MLPClassifier, get_registry, load, save
from ensemblekit.cli import cli

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

INSTALLED = {"l1": "ensemblekit-l1", "maxnorm": "ensemblekit-maxnorm",
             "noise": "ensemblekit-noise", "gradclip": "ensemblekit-gradclip",
             "affine": "ensemblekit-augment"}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:400] / 16.0).astype(np.float32), y[:400]


def test_listed_by_the_plugins_command():
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {row["name"]: row for row in json.loads(result.output)["plugins"]}
    for name, dist in INSTALLED.items():
        assert listed[name]["distribution"] == dist
        assert listed[name]["version"] == version(dist)


def test_all_of_them_by_name_in_one_network(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=20, random_state=0, alpha=0.0,
                        learning_rate_init=0.01, plugins=list(INSTALLED))
    clf.set_params(plugins__l1__alpha=1e-3, plugins__maxnorm__max_norm=2.0,
                   plugins__noise__stddev=0.05, plugins__gradclip__max_norm=5.0,
                   plugins__affine__rotation=5.0).fit(X, y)
    assert [type(p).__module__ for _, p in clf.plugins_] == [
        dist.replace("-", "_") for dist in INSTALLED.values()]
    assert max(np.linalg.norm(W, axis=0).max() for W in clf.coefs_) <= 2.0 * (1 + 1e-5)
    assert clf.score(X, y) > 0.8


def test_grid_search_over_an_installed_plugin_by_name(digits):
    X, y = digits
    search = GridSearchCV(
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=15, random_state=0, alpha=0.0,
                      learning_rate_init=0.01, plugins=["l1"]),
        {"plugins__l1__alpha": [1e-4, 30.0]}, cv=2).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] > scores[1] + 0.3  # an absurd L1 strength kills the network
    assert search.best_params_ == {"plugins__l1__alpha": 1e-4}
    assert search.best_estimator_.plugins_[0][1].alpha == 1e-4


def test_in_an_ensemble_trained_with_two_jobs(digits):
    X, y = digits
    member = MLPClassifier(hidden_layer_sizes=(16,), max_iter=10, alpha=0.0,
                           learning_rate_init=0.01, plugins=["maxnorm", "noise"])
    ens = EnsembleClassifier(member, n_estimators=2, n_jobs=2, random_state=0).fit(X, y)
    for fitted in ens.estimators_:
        assert [n for n, _ in fitted.plugins_] == ["maxnorm", "noise"]
        assert max(np.linalg.norm(W, axis=0).max() for W in fitted.coefs_) <= 3.0 * (1 + 1e-5)
    assert ens.score(X, y) > 0.8


def test_saved_and_loaded_model_file(digits, tmp_path):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0,
                        plugins=["l1", "gradclip"]).set_params(plugins__l1__alpha=0.01)
    clf.fit(X, y)
    save(clf, tmp_path / "model.ekm")
    loaded = load(tmp_path / "model.ekm")
    assert loaded.get_params()["plugins__l1__alpha"] == 0.01
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_command_line_training_with_an_installed_plugin(tmp_path):
    out = tmp_path / "m.ekm"
    result = CliRunner().invoke(cli, ["train", "--hidden", "16", "--max-iter", "3", "--alpha", "0",
                                      "--plugin", "l1:alpha=0.01", "--plugin", "maxnorm",
                                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    model = load(out)
    estimator = model[-1] if hasattr(model, "steps") else model
    assert [n for n, _ in estimator.plugins_] == ["l1", "maxnorm"]
    assert estimator.plugins_[0][1].alpha == 0.01


def test_sources_name_the_distributions():
    registry = get_registry()
    for name, dist in INSTALLED.items():
        assert registry.sources[name] == (dist, version(dist))
