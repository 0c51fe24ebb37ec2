"""The small-data recipe ``examples/digits300.toml`` is a valid ``ensemblekit train`` config.

Its settings are run through the command line (``train --config``) on a small
digits CSV, for two epochs: every key must be accepted, and every value must
reach the trained model.  The recipe's accuracy (3 seeds, 1,497 test rows) is
measured by ``examples/digits300_search.py``, not here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sklearn.datasets import load_digits

import ensemblekit
from ensemblekit.cli import cli

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

RECIPE = Path(__file__).resolve().parent.parent / "examples" / "digits300.toml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recipe() -> dict:
    """The recipe's settings."""
    return tomllib.loads(RECIPE.read_text())


@pytest.fixture(scope="module")
def trained(tmp_path_factory, recipe):
    """Train the recipe for 2 epochs on 100 digits through the CLI; return output and model."""
    root = tmp_path_factory.mktemp("digits300")
    frame = load_digits(as_frame=True).frame.rename(columns={"target": "label"})
    frame.iloc[:100].to_csv(root / "train.csv", index=False)
    result = CliRunner().invoke(cli, [
        "train", str(root / "train.csv"), "--target", "label", "--config", str(RECIPE),
        "--max-iter", "2", "--out", str(root / "m.ekm")])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout, ensemblekit.load(root / "m.ekm")


def test_the_recipe_trains_on_all_rows(trained, recipe):
    out, _ = trained
    assert recipe["test-size"] == 0
    assert "train     100 rows" in out
    assert "test " not in out.split("epochs:")[1]  # no rows held out


def test_every_setting_reaches_the_model(trained, recipe):
    _, model = trained
    network = model[-1]
    n_members = recipe.get("n-estimators", 1)
    if n_members > 1:
        assert isinstance(network, ensemblekit.EnsembleClassifier)
        assert len(network.estimators_) == n_members
        assert network.combiner == recipe.get("combiner", "mean")
        assert network.bootstrap == recipe.get("bootstrap", False)
        network = network.estimators_[0]
    expected = {"hidden_layer_sizes": tuple(recipe["hidden"]),
                "activation": recipe.get("activation", "relu"),
                "solver": recipe.get("solver", "adam"),
                "alpha": recipe.get("alpha", 1e-4),
                "learning_rate_init": recipe.get("learning-rate", 1e-3),
                "weight_init": recipe.get("weight-init", "glorot"),
                "batch_norm": recipe.get("batch-norm", False),
                "max_iter": 2}  # the command line wins over the config file
    assert {k: network.get_params()[k] for k in expected} == expected
    plugins = {name: plugin.get_params() for name, plugin in network.plugins_}
    for name, params in recipe.get("plugin", {}).items():
        assert {k: plugins[name][k] for k in params} == params
