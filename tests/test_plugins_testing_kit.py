"""ensemblekit.testing: every built-in and every plugins/ package passes; broken plugins fail."""

import importlib.metadata
import pathlib
import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from ensemblekit import Dropout, MLPClassifier, Plugin, WeightDecay, get_registry, hookimpl
from ensemblekit.testing import (
    check_determinism,
    check_float32,
    check_hook_signatures,
    check_init_and_params,
    check_penalty_gradient,
    check_pickle,
    check_plugin,
    check_train_vs_predict,
    check_zero_strength,
    isolated_registry,
    parametrize_with_plugin_checks,
    registered_plugin,
    toy_classification,
    toy_regression,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

PLUGINS_DIR = pathlib.Path(__file__).parents[1] / "plugins"


def _plugin_distributions() -> list[str]:
    """Names of the distributions in plugins/ (each folder is named after its own)."""
    dists = []
    for pyproject in sorted(PLUGINS_DIR.glob("*/pyproject.toml")):
        dist = pyproject.parent.name
        assert f'name = "{dist}"' in pyproject.read_text()
        dists.append(dist)
    return dists


# --------------------------------------------------------------------------
# what must pass
# --------------------------------------------------------------------------
@parametrize_with_plugin_checks(
    [WeightDecay(), WeightDecay(alpha=0.05, convention="book"), Dropout(),
     Dropout(rate=0.3, mode="book")],
)  # zero strength: the classes' own zero_strength_params, as a third party declares it
def test_builtins_pass_the_kit(plugin, check):
    check(plugin)


def test_every_plugins_package_is_installed_and_passes_the_kit():
    registry = get_registry()
    dists = _plugin_distributions()
    assert len(dists) >= 4
    for dist in dists:
        try:
            entry_points = importlib.metadata.distribution(dist).entry_points
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{dist} is not installed: pip install ./plugins/*/")
        assert [ep.group for ep in entry_points] == ["ensemblekit"]
        names = [n for n, (source, _) in registry.sources.items() if source == dist]
        assert names, f"{dist} is installed but registers no plugin"
        for name in names:
            check_plugin(registry.create(name))


# --------------------------------------------------------------------------
# broken plugins: each check catches its own kind of bug
# --------------------------------------------------------------------------
class _Base(Plugin):
    name = "broken"

    def __init__(self, alpha=0.1):
        self.alpha = alpha


class _Undecorated(_Base):
    def ensemblekit_after_step(self, params):
        pass


class _Misspelled(_Base):
    @hookimpl
    def ensemblekit_after_steps(self, params):
        pass


class _UnknownArgument(_Base):
    @hookimpl
    def ensemblekit_after_step(self, weights):
        pass


class _DefaultArgument(_Base):
    @hookimpl
    def ensemblekit_after_step(self, params=None):
        pass


class _Unnamed(_Base):
    name = ""


class _DiscoveryHookOnClass(_Base):
    @hookimpl
    def ensemblekit_register_plugins(self, register):
        pass


@pytest.mark.parametrize("cls, match", [
    (_Undecorated, "ensemblekit_after_step is not decorated with @hookimpl"),
    (_Misspelled, "not an ensemblekit hook; did you mean ensemblekit_after_step"),
    (_UnknownArgument, "takes argument 'weights', which the hook does not have"),
    (_DefaultArgument, "argument 'params' has a default value"),
    (_Unnamed, "non-empty str attribute `name`"),
    (_DiscoveryHookOnClass, "discovery hook"),
])
def test_hook_signature_problems_are_caught(cls, match):
    with pytest.raises(AssertionError, match=match):
        check_hook_signatures(cls())


class _ValidatingInit(_Base):
    def __init__(self, alpha=0.1):
        self.alpha = float(alpha)


class _ConvertingInit(_Base):
    def __init__(self, alpha=0.1):
        self.alpha = [alpha]


class _ExtraStateInInit(_Base):
    def __init__(self, alpha=0.1):
        self.alpha = alpha
        self.cache_ = {}


@pytest.mark.parametrize("plugin, match", [
    (_ValidatingInit(alpha=1), r"__init__ inspects parameter 'alpha' \(TypeError"),
    (_ConvertingInit(), "does not store parameter 'alpha' unchanged"),
    (_ExtraStateInInit(), r"sets attributes that are not parameters: \['cache_'\]"),
])
def test_impure_init_is_caught(plugin, match):
    with pytest.raises(AssertionError, match=match):
        check_init_and_params(plugin)


class _KeepsALambda(_Base):
    @hookimpl
    def ensemblekit_fit_start(self):
        self._schedule = lambda epoch: epoch


def test_unpicklable_fitted_state_is_caught():
    with pytest.raises(AssertionError, match="does not pickle"):
        check_pickle(_KeepsALambda())


class _WrongGradient(_Base):
    """Returns alpha * sum(W**2) but adds alpha * W: the factor 2 is missing."""

    @hookimpl
    def ensemblekit_penalty(self, coefs, coef_grads):
        for W, G in zip(coefs, coef_grads):
            G += self.alpha * W
        return self.alpha * sum(float((W ** 2).sum()) for W in coefs)


class _WritesToCoefs(_Base):
    @hookimpl
    def ensemblekit_penalty(self, coefs):
        coefs[0] *= 0.999
        return 0.0


class _RightGradient(_Base):
    @hookimpl
    def ensemblekit_penalty(self, coefs, intercepts, coef_grads, intercept_grads):
        value = 0.0
        for b, g in zip(intercepts, intercept_grads):  # biases too, a cubic term
            g += 3 * self.alpha * b ** 2
            value += self.alpha * float((b ** 3).sum())
        return value


def test_penalty_gradient_check():
    with pytest.raises(AssertionError, match="does not match finite differences"):
        check_penalty_gradient(_WrongGradient())
    with pytest.raises(AssertionError, match="modified coefs or intercepts"):
        check_penalty_gradient(_WritesToCoefs())
    check_penalty_gradient(_RightGradient())


class _DrawsEvenWhenOff(_Base):
    zero_strength_params = {"alpha": 0.0}

    @hookimpl
    def ensemblekit_fit_start(self, rng):
        self._noise = rng.normal(size=3) * self.alpha


class _OffIsNotOff(_Base):
    @hookimpl
    def ensemblekit_after_step(self, estimator):
        estimator.coefs_[0] *= 0.99


def test_zero_strength_check():
    with pytest.raises(AssertionError, match="training differs from training without"):
        check_zero_strength(_DrawsEvenWhenOff())
    with pytest.raises(AssertionError, match="training differs"):
        check_zero_strength(_OffIsNotOff(), zero_strength_params={"alpha": 0.0})
    with pytest.raises(AssertionError, match=r"\['beta'\] are not parameters"):
        check_zero_strength(_Base(), zero_strength_params={"beta": 0})
    check_zero_strength(_Base())  # declares nothing: nothing to check


class _LegacyDrawsEvenWhenOff(_Base):
    _zero_strength_params = {"alpha": 0.0}  # the name third-party plugins used before

    @hookimpl
    def ensemblekit_fit_start(self, rng):
        self._noise = rng.normal(size=3) * self.alpha


class _LegacyOff(_Base):
    _zero_strength_params = {"alpha": 0.0}


class _LegacyOverridesPublic(_DrawsEvenWhenOff):
    _zero_strength_params = {"beta": 0.0}


def test_zero_strength_params_is_a_public_plugin_attribute():
    assert Plugin.zero_strength_params is None
    assert "zero_strength_params" in Plugin.__doc__
    assert WeightDecay.zero_strength_params == {"alpha": 0.0}
    assert Dropout.zero_strength_params == {"rate": 0.0}
    assert not hasattr(WeightDecay, "_zero_strength_params")
    assert not hasattr(Dropout, "_zero_strength_params")


def test_the_public_name_is_read_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with pytest.raises(AssertionError, match=r"with \{'alpha': 0.0\} training differs"):
            check_zero_strength(_DrawsEvenWhenOff())
        check_zero_strength(WeightDecay(alpha=0.05))


def test_the_underscore_name_is_still_read_with_a_deprecation_warning():
    # read: the values it declares are the ones checked (and this plugin fails with them)
    with pytest.warns(DeprecationWarning, match=r"test_plugins_testing_kit\."
                                                r"_LegacyDrawsEvenWhenOff declares "
                                                r"_zero_strength_params; rename it"):
        with pytest.raises(AssertionError, match=r"with \{'alpha': 0.0\} training differs"):
            check_zero_strength(_LegacyDrawsEvenWhenOff())
    with pytest.warns(DeprecationWarning, match="_LegacyOff declares _zero_strength_params"):
        check_zero_strength(_LegacyOff())
    with pytest.warns(DeprecationWarning, match="_LegacyOff"):
        check_plugin(_LegacyOff())
    # the nearest class decides: here the subclass's underscore name
    with pytest.warns(DeprecationWarning, match="_LegacyOverridesPublic"):
        with pytest.raises(AssertionError, match=r"\['beta'\] are not parameters"):
            check_zero_strength(_LegacyOverridesPublic())
    # values passed explicitly win, and the class attribute is not read
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        check_zero_strength(_LegacyOff(), zero_strength_params={"alpha": 0.0})


class _NoisyPredict(_Base):
    @hookimpl
    def ensemblekit_fit_start(self, rng):
        self._rng = np.random.default_rng(rng.integers(2**32))

    @hookimpl
    def ensemblekit_predict_hidden(self, activation):
        activation += self._rng.normal(size=activation.shape)


class _NoisyPredictDeclared(_NoisyPredict):
    _stochastic_predict = True


class _LeaksIntoPredict(_Base):
    @hookimpl
    def ensemblekit_fit_end(self, estimator):
        estimator.out_activation_ = "identity"


def test_train_vs_predict_check():
    with pytest.raises(AssertionError, match="different results on the same input"):
        check_train_vs_predict(_NoisyPredict())
    check_train_vs_predict(_NoisyPredictDeclared())
    with pytest.raises(AssertionError, match="predictions differ from the same weights"):
        check_train_vs_predict(_LeaksIntoPredict())


class _GlobalRandom(_Base):
    @hookimpl
    def ensemblekit_forward_hidden(self, activation):
        activation += np.random.normal(size=activation.shape)  # noqa: NPY002 - the bug


class _UnseededRandom(_Base):
    @hookimpl
    def ensemblekit_fit_start(self):
        self._rng = np.random.default_rng()

    @hookimpl
    def ensemblekit_forward_hidden(self, activation):
        activation += self._rng.normal(size=activation.shape)


def test_determinism_check():
    with pytest.raises(AssertionError, match="numpy's global random state"):
        check_determinism(_GlobalRandom())
    with pytest.raises(AssertionError, match="same random_state differ"):
        check_determinism(_UnseededRandom())


class _Float64Weights(_Base):
    @hookimpl
    def ensemblekit_fit_end(self, estimator):
        estimator.coefs_ = [c.astype(np.float64) for c in estimator.coefs_]


def test_float32_check():
    with pytest.raises(AssertionError, match=r"produced dtypes \['float32', 'float64'\]"):
        check_float32(_Float64Weights())


def test_check_plugin_wants_an_instance():
    with pytest.raises(TypeError, match="not the class WeightDecay"):
        check_plugin(WeightDecay)
    with pytest.raises(TypeError, match="expected an ensemblekit.Plugin instance, got str"):
        check_plugin("dropout")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
class _Shrink(Plugin):
    name = "shrink"

    def __init__(self, factor=1.0):
        self.factor = factor

    @hookimpl
    def ensemblekit_after_step(self, estimator):
        for W in estimator.coefs_:
            W *= self.factor


def test_registered_plugin_for_one_block():
    X, y = toy_classification()
    with registered_plugin(_Shrink) as name:
        assert name == "shrink"
        search = GridSearchCV(
            MLPClassifier(hidden_layer_sizes=(4,), max_iter=30, random_state=0,
                          plugins=["shrink"]),
            {"plugins__shrink__factor": [0.5, 1.0]}, cv=2).fit(X, y)
        assert search.best_params_ == {"plugins__shrink__factor": 1.0}
    assert "shrink" not in get_registry().plugins
    with pytest.raises(ValueError, match="unknown plugin 'shrink'"):
        MLPClassifier(plugins=["shrink"]).fit(X, y)


def test_registered_plugin_refuses_a_taken_name():
    with pytest.raises(ValueError, match="'dropout' is already registered .by ensemblekit"):
        with registered_plugin(_Shrink, name="dropout"):
            pass
    with pytest.raises(TypeError, match="must be a subclass of ensemblekit.Plugin"):
        with registered_plugin(dict, name="dict"):
            pass
    assert get_registry().plugins["dropout"] is Dropout


def test_isolated_registry_has_only_builtins_and_what_it_is_given():
    installed = get_registry()
    assert "l1" in installed.plugins
    with isolated_registry() as registry:
        assert get_registry() is registry
        assert "l1" not in registry.plugins and "dropout" in registry.plugins
    assert get_registry() is installed


def test_toy_datasets():
    X, y = toy_classification(np.float32)
    assert X.shape == (150, 4) and X.dtype == np.float32 and set(y) == {0, 1, 2}
    X, y = toy_regression()
    assert X.shape == (200, 10) and abs(y.mean()) < 1e-12 and y.std() == pytest.approx(1)


# --------------------------------------------------------------------------
# a check that does not apply is skipped, not passed (issue 15, item 8)
# --------------------------------------------------------------------------
class _OffDependsOnTheEstimator(_Base):
    """Off at alpha=0, but only for stochastic solvers; the kit trains with sgd."""

    seen_: list = []

    @staticmethod
    def zero_strength_params(estimator):
        _OffDependsOnTheEstimator.seen_.append(estimator.solver)
        return {"alpha": 0.0} if estimator.solver != "lbfgs" else None

    @hookimpl
    def ensemblekit_after_step(self, params):
        for p in params:
            p *= 1.0 - self.alpha


class _NoOffForThisEstimator(_OffDependsOnTheEstimator):
    zero_strength_params = staticmethod(lambda estimator: None)


def test_check_plugin_reports_skipped_checks_distinctly():
    results = check_plugin(Dropout(0.3))  # no penalty; declares {"rate": 0.0}
    assert results["check_penalty_gradient"] == (
        "skipped (the plugin implements no ensemblekit_penalty)")
    assert results["check_zero_strength"] == "passed"
    assert results["check_pickle"] == "passed"
    results = check_plugin(_Base())  # declares no off value
    assert results["check_zero_strength"] == (
        "skipped (the plugin declares no off value: zero_strength_params is None)")
    assert check_zero_strength(_Base()).reason.startswith("the plugin declares no off value")


def test_an_off_value_may_depend_on_the_estimator():
    _OffDependsOnTheEstimator.seen_.clear()
    assert check_zero_strength(_OffDependsOnTheEstimator()) is None  # ran, and passed
    assert _OffDependsOnTheEstimator.seen_ == ["sgd"]
    assert str(check_zero_strength(_NoOffForThisEstimator())) == (
        "skipped (zero_strength_params(estimator) returned None: no off value for the "
        "check's estimator)")
    with pytest.raises(AssertionError, match="training differs"):
        check_zero_strength(_OffDependsOnTheEstimator(), lambda est: {"alpha": 0.5})


@parametrize_with_plugin_checks([_Base()])
def test_parametrized_checks_skip_with_the_reason(plugin, check, request):
    name = request.node.callspec.id.rsplit("-", 1)[1]
    if name in ("check_penalty_gradient", "check_zero_strength"):
        with pytest.raises(pytest.skip.Exception, match="no off value|no ensemblekit_penalty"):
            check(plugin)
    else:
        check(plugin)
