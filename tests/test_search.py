"""CoarseToFineSearchCV: narrowing, parity with scikit-learn's searches, bad input."""

from __future__ import annotations

import json
import math
import warnings

import matplotlib
import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RandomizedSearchCV, StratifiedShuffleSplit
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from ensemblekit import CoarseToFineSearchCV, MLPClassifier, WeightDecay

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """These problems are tiny: with several BLAS threads on a busy machine (other suites
    running) a LogisticRegression search here took 42 s instead of 1 s."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def digits500():
    X, y = load_digits(return_X_y=True)
    return (X[:500] / 16).astype(np.float32), y[:500]


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def _log_width(spec: tuple) -> float:
    return math.log10(spec[1]) - math.log10(spec[0])


class _Peak(BaseEstimator):
    """Scores ``-(log10(rate) + 3) ** 2`` (+1 for ``mode="good"``): optimum rate 1e-3."""

    def __init__(self, rate: float = 1.0, mode: str = "bad") -> None:
        self.rate = rate
        self.mode = mode

    def fit(self, X, y=None):
        return self

    def score(self, X, y=None):
        return -(math.log10(self.rate) + 3) ** 2 + (self.mode == "good")


def test_ranges_narrow_toward_a_known_optimum(iris):
    X, y = iris
    search = CoarseToFineSearchCV(
        _Peak(), {"rate": (1e-8, 1e2, "log"), "mode": ["bad", "good", "ugly"]},
        n_rounds=4, n_candidates=12, top_k=3, cv=2, random_state=0).fit(X, y)
    widths = [_log_width(r["rate"]) for r in search.ranges_]
    assert widths[0] == pytest.approx(10)
    assert all(a > b for a, b in zip(widths, widths[1:])), widths
    assert widths[-1] < 2
    for ranges in [*search.ranges_, search.final_ranges_]:
        low, high, kind = ranges["rate"]
        assert low <= 1e-3 <= high and kind == "log"
    assert search.final_ranges_["mode"] == ["good"]
    assert abs(math.log10(search.best_params_["rate"]) + 3) < 0.2
    assert search.best_params_["mode"] == "good"
    # each round sampled inside the range it recorded
    rounds = search.cv_results_["round"]
    for params, r in zip(search.cv_results_["params"], rounds):
        low, high, _ = search.ranges_[r]["rate"]
        assert low <= params["rate"] <= high
    assert np.array_equal(rounds, np.repeat(np.arange(4), 12))


def _fit_quietly(search, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(X, y)


def test_learning_rate_on_digits_matches_random_search_at_the_same_budget(digits500):
    X, y = digits500
    net = MLPClassifier((32,), solver="sgd", momentum=0, batch_size=50, max_iter=10,
                        random_state=0)
    cv = StratifiedShuffleSplit(n_splits=1, test_size=0.3, random_state=0)
    coarse, randomized = [], []
    for seed in range(3):
        search = _fit_quietly(CoarseToFineSearchCV(
            net, {"learning_rate_init": (1e-5, 10.0, "log")}, n_rounds=3,
            n_candidates=10, top_k=3, cv=cv, refit=False, random_state=seed), X, y)
        widths = [_log_width(r["learning_rate_init"]) for r in search.ranges_]
        assert widths[0] > widths[1] > widths[2], widths
        best = search.best_params_["learning_rate_init"]
        low, high, _ = search.final_ranges_["learning_rate_init"]
        assert low <= best <= high
        # the whole 30-fit budget was spent, 10 per round
        assert len(search.cv_results_["params"]) == 30
        coarse.append(search.best_score_)
        baseline = _fit_quietly(RandomizedSearchCV(
            net, {"learning_rate_init": loguniform(1e-5, 10.0)}, n_iter=30, cv=cv,
            refit=False, random_state=seed), X, y)
        randomized.append(baseline.best_score_)
    # measured: 0.960 vs 0.947 mean best validation accuracy (seeds 0-2)
    assert np.mean(coarse) >= np.mean(randomized)
    assert min(coarse) > 0.9


def test_same_random_state_same_search_and_different_seed_differs(iris):
    X, y = iris
    ranges = {"C": (1e-2, 1e2, "log"), "fit_intercept": [True, False]}

    def run(seed):
        return CoarseToFineSearchCV(LogisticRegression(max_iter=1000), ranges,
                                    n_rounds=2, n_candidates=4, top_k=2, cv=3,
                                    random_state=seed).fit(X, y)

    a, b, c = run(3), run(3), run(4)
    assert a.cv_results_["params"] == b.cv_results_["params"]
    np.testing.assert_array_equal(a.cv_results_["mean_test_score"],
                                  b.cv_results_["mean_test_score"])
    assert a.ranges_ == b.ranges_
    assert a.cv_results_["params"] != c.cv_results_["params"]


def test_generator_random_state_and_no_global_rng(iris):
    X, y = iris
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - probing the global RNG
    search = CoarseToFineSearchCV(LogisticRegression(max_iter=1000), {"C": (0.01, 10, "log")},
                                  n_rounds=2, n_candidates=4, top_k=2,
                                  random_state=np.random.default_rng(0)).fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_sklearn_search_conventions_svc(iris):
    X, y = iris
    search = CoarseToFineSearchCV(
        SVC(), {"C": (1e-2, 1e3, "log"), "gamma": (1e-4, 1e1, "log"),
                "kernel": ["rbf", "linear"]},
        n_rounds=2, n_candidates=6, top_k=2, scoring="accuracy", cv=3,
        return_train_score=True, random_state=0).fit(X, y)
    assert clone(search).get_params()["param_ranges"] == search.param_ranges
    reference = RandomizedSearchCV(SVC(), {"C": [1.0], "gamma": [0.1], "kernel": ["rbf"]},
                                   n_iter=1, cv=3, return_train_score=True).fit(X, y)
    assert set(search.cv_results_) == set(reference.cv_results_) | {"round"}
    for key, value in search.cv_results_.items():
        assert len(value) == 12, key
    assert search.best_score_ == search.cv_results_["mean_test_score"].max()
    assert search.best_params_ == search.cv_results_["params"][search.best_index_]
    assert search.best_estimator_.get_params()["C"] == search.best_params_["C"]
    assert search.score(X, y) == search.best_estimator_.score(X, y)
    np.testing.assert_array_equal(search.predict(X), search.best_estimator_.predict(X))


def test_passes_scikit_learns_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    search = CoarseToFineSearchCV(LogisticRegression(), {"C": (0.1, 10.0, "log")}, n_rounds=2,
                                  n_candidates=3, top_k=1, cv=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        results = check_estimator(search, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]
    assert len(results) > 50 and not failed


def test_multimetric_refit_names_the_ranking_metric(iris):
    X, y = iris
    search = CoarseToFineSearchCV(
        LogisticRegression(max_iter=1000), {"C": (1e-3, 1e2, "log")}, n_rounds=2,
        n_candidates=4, top_k=2, scoring=["accuracy", "neg_log_loss"],
        refit="neg_log_loss", random_state=0).fit(X, y)
    scores = search.cv_results_["mean_test_neg_log_loss"]
    assert search.best_index_ == int(np.argmax(scores))
    with pytest.raises(ValueError, match="refit must name the metric"):
        CoarseToFineSearchCV(
            LogisticRegression(max_iter=1000), {"C": (1e-3, 1e2, "log")}, n_rounds=2,
            n_candidates=4, top_k=2, scoring=["accuracy", "neg_log_loss"],
            refit=False).fit(X, y)


def test_refit_false_has_no_best_estimator(iris):
    X, y = iris
    search = CoarseToFineSearchCV(LogisticRegression(max_iter=1000), {"C": (0.1, 10, "log")},
                                  n_rounds=1, n_candidates=3, top_k=1, refit=False).fit(X, y)
    assert not hasattr(search, "best_estimator_")
    assert 0.5 < search.best_score_ <= 1


def test_integer_ranges_sample_integers_in_range(iris):
    X, y = iris
    search = CoarseToFineSearchCV(
        KNeighborsClassifier(), {"n_neighbors": (1, 40, "log", "int"),
                                 "leaf_size": (5, 9, "linear", "int")},
        n_rounds=3, n_candidates=8, top_k=2, random_state=0).fit(X, y)
    neighbours = [p["n_neighbors"] for p in search.cv_results_["params"]]
    leaves = [p["leaf_size"] for p in search.cv_results_["params"]]
    assert all(isinstance(v, int) and 1 <= v <= 40 for v in neighbours)
    assert set(leaves) <= set(range(5, 10)) and len(set(leaves)) > 2
    assert search.final_ranges_["n_neighbors"][3] == "int"


def test_integer_log_range_reaches_both_bounds(iris):
    X, y = iris
    search = CoarseToFineSearchCV(KNeighborsClassifier(), {"n_neighbors": (5, 8, "log", "int")},
                                  n_rounds=1, n_candidates=40, top_k=1, cv=2,
                                  random_state=0).fit(X, y)
    assert {p["n_neighbors"] for p in search.cv_results_["params"]} == {5, 6, 7, 8}


def test_results_do_not_depend_on_n_jobs(iris):
    X, y = iris

    def run(n_jobs):
        return CoarseToFineSearchCV(
            LogisticRegression(max_iter=1000), {"C": (1e-2, 1e2, "log")}, n_rounds=2,
            n_candidates=4, top_k=2, cv=3, n_jobs=n_jobs, random_state=0).fit(X, y)

    one, two = run(1), run(2)
    assert one.cv_results_["params"] == two.cv_results_["params"]
    np.testing.assert_array_equal(one.cv_results_["mean_test_score"],
                                  two.cv_results_["mean_test_score"])
    assert one.ranges_ == two.ranges_


def test_nested_plugin_parameters_of_our_mlp(digits500):
    X, y = digits500
    net = MLPClassifier((16,), solver="sgd", batch_size=50, max_iter=5,
                        plugins=[WeightDecay(convention="book")], random_state=0)
    search = _fit_quietly(CoarseToFineSearchCV(
        net, {"learning_rate_init": (1e-4, 1e-1, "log"),
              "plugins__weight_decay__alpha": (1e-8, 1e-4, "log")},
        n_rounds=2, n_candidates=4, top_k=2, cv=2, random_state=0), X, y)
    alpha = search.best_params_["plugins__weight_decay__alpha"]
    assert 1e-8 <= alpha <= 1e-4
    assert search.best_estimator_.plugins[0].alpha == alpha
    assert net.plugins[0].alpha == 0.0001  # the user's plugin is untouched
    assert search.best_estimator_.score(X, y) > 0.5


def test_plot_rounds_draws_one_panel_per_continuous_parameter(iris):
    X, y = iris
    search = CoarseToFineSearchCV(
        SVC(), {"C": (1e-2, 1e3, "log"), "gamma": (0.0, 1.0, "linear"),
                "kernel": ["rbf", "poly"]},
        n_rounds=2, n_candidates=4, top_k=2, random_state=0).fit(X, y)
    axes = search.plot_rounds()
    assert [a.get_ylabel() for a in axes] == ["C", "gamma"]
    assert axes[0].get_yscale() == "log" and axes[1].get_yscale() == "linear"
    points = axes[0].collections[-1].get_offsets()
    assert len(points) == 8
    with pytest.raises(ValueError, match="continuous parameters, which are"):
        search.plot_rounds(params=["kernel"])


BAD_RANGES = [
    ({"C": (10, 1, "log")}, "empty or inverted"),
    ({"C": (1, 1, "linear")}, "empty or inverted"),
    ({"C": (0, 1, "log")}, "must be positive"),
    ({"C": (-1, 1, "log")}, "must be positive"),
    ({"C": (1, 2, "cubic")}, "unknown kind 'cubic'"),
    ({"C": (1, 2)}, "3 or 4 elements"),
    ({"C": (1, 2, "log", "float")}, "must be 'int'"),
    ({"C": (1.2, 1.8, "linear", "int")}, "holds no integer"),
    ({"C": (1, float("inf"), "log")}, "finite numbers"),
    ({"C": ("a", 2, "log")}, "finite numbers"),
    ({"C": []}, "empty list of choices"),
    ({"C": loguniform(1e-3, 1)}, "must be a tuple"),
    ({"Cee": (1, 2, "log")}, r"unknown parameter\(s\) \['Cee'\].*valid parameters are .*'C'"),
    ({}, "param_ranges is empty"),
]


@pytest.mark.parametrize(("ranges", "message"), BAD_RANGES)
def test_bad_ranges_are_named(iris, ranges, message):
    X, y = iris
    search = CoarseToFineSearchCV(LogisticRegression(max_iter=1000), ranges, n_rounds=1,
                                  n_candidates=2, top_k=1)
    with pytest.raises(ValueError, match=message):
        search.fit(X, y)


@pytest.mark.parametrize(("settings", "message"), [
    ({"n_rounds": 0}, "'n_rounds' parameter"),
    ({"n_candidates": 0}, "'n_candidates' parameter"),
    ({"top_k": 0}, "'top_k' parameter"),
    ({"margin": -0.1}, "'margin' parameter"),
    ({"top_k": 6, "n_candidates": 5}, "top_k=6 is larger than n_candidates=5"),
    ({"top_k": 5, "n_candidates": 5, "n_rounds": 2}, "budget is too small to narrow"),
])
def test_bad_settings_are_named(iris, settings, message):
    X, y = iris
    search = CoarseToFineSearchCV(LogisticRegression(max_iter=1000), {"C": (0.1, 1, "log")},
                                  **settings)
    with pytest.raises(ValueError, match=message):
        search.fit(X, y)


# --------------------------------------------------------------------------
# ensemblekit search (the command line)
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory):
    frame = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    path = tmp_path_factory.mktemp("search") / "iris.csv"
    frame.to_csv(path, index=False)
    return path


def _search_cli(*args):
    from click.testing import CliRunner

    from ensemblekit.cli import cli

    return CliRunner().invoke(cli, ["search", *map(str, args)])


def test_cli_search_on_a_csv_writes_rounds_and_a_plot(iris_csv, tmp_path, monkeypatch):
    figure = pytest.importorskip("matplotlib.figure", reason="--plot needs matplotlib")
    saved = []
    savefig = figure.Figure.savefig
    monkeypatch.setattr(figure.Figure, "savefig",
                        lambda fig, *a, **k: (saved.append(fig), savefig(fig, *a, **k))[1])
    out, plot = tmp_path / "search.json", tmp_path / "rounds.png"
    result = _search_cli(
        iris_csv, "--target", "species", "--hidden", "8", "--solver", "lbfgs",
        "--max-iter", "100", "--param", "alpha=1e-5:10:log", "--param",
        "activation=relu,tanh", "--rounds", "2", "--candidates", "4", "--top-k", "2",
        "--out", out, "--plot", plot)
    assert result.exit_code == 0, result.output
    assert "round 1: alpha [1e-05, 10] log, activation ['relu', 'tanh']" in result.output
    assert "round 2:" in result.output and "test " in result.output
    record = json.loads(out.read_text())
    assert len(record["trials"]) == 8 and len(record["ranges"]) == 2
    assert set(record["best_params"]) == {"alpha", "activation"}
    assert record["test"]["accuracy"] > 0.8
    assert plot.read_bytes()[:4] == b"\x89PNG"
    # the axes name the parameters as --param does, not the pipeline's model__alpha
    labels = {ax.get_ylabel() for fig in saved for ax in fig.axes}
    assert "alpha" in labels and not any("model__" in label for label in labels)


def test_cli_search_adds_the_plugin_its_parameters_name(iris_csv, tmp_path):
    out = tmp_path / "search.json"
    result = _search_cli(
        iris_csv, "-t", "species", "--hidden", "8", "--solver", "lbfgs", "--max-iter", "50",
        "--param", "plugins__dropout__rate=0.0:0.5:linear", "--rounds", "1",
        "--candidates", "2", "--top-k", "1", "--test-size", "0", "--out", out)
    assert result.exit_code == 0, result.output
    rate = json.loads(out.read_text())["best_params"]["plugins__dropout__rate"]
    assert 0 <= rate <= 0.5


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--param", "alpha"], 2, "expected NAME=LOW:HIGH:log|linear"),
    (["--param", "alpha=1:2"], 2, "a range is LOW:HIGH:log|linear[:int]"),
    (["--param", "alpha=a:b:log"], 2, "the bounds of 'alpha' must be numbers"),
    (["--param", "alpha=1:0.1:log"], 1, "empty or inverted: low=1.0"),
    (["--param", "alpha=0:1:log"], 1, "must be positive"),
    (["--param", "alpah=0.1:1:log"], 1, "unknown parameter(s) ['alpah']"),
    ([], 2, "give at least one --param"),
])
def test_cli_search_bad_input_is_one_clear_line(iris_csv, args, code, message):
    result = _search_cli(iris_csv, "-t", "species", "--solver", "lbfgs", "--rounds", "1",
                         "--candidates", "2", "--top-k", "1", *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
