"""The checks of :func:`check_plugin`, each usable on its own."""

from __future__ import annotations

import functools
import inspect
import math
import pickle
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from .. import hookspecs
from ..mlp import MLPClassifier
from ..plugins import HOOKIMPL_MARKER, Hooks, Plugin, PluginError, hook_name_problems
from ._helpers import toy_classification

__all__ = [
    "check_determinism",
    "check_float32",
    "check_hook_signatures",
    "check_init_and_params",
    "check_penalty_gradient",
    "check_pickle",
    "check_plugin",
    "check_train_vs_predict",
    "check_zero_strength",
    "parametrize_with_plugin_checks",
    "plugin_checks",
]

#: The small network every check trains: a stochastic solver (plugins that
#: constrain or clip optimizer steps refuse ``lbfgs``), momentum, shuffling,
#: several batches per epoch, no implicit weight decay.
TRAINING_PARAMS: dict[str, Any] = {
    "hidden_layer_sizes": (8, 8),
    "solver": "sgd",
    "learning_rate_init": 0.05,
    "momentum": 0.9,
    "batch_size": 32,
    "max_iter": 4,
    "alpha": 0.0,
    "random_state": 0,
}

_HOOKS = {n: getattr(hookspecs, n) for n in dir(hookspecs) if n.startswith("ensemblekit_")}
_MARKER = HOOKIMPL_MARKER


@dataclass(frozen=True)
class Skipped:
    """What a check returns when it cannot apply to a plugin, and why.

    A check that passes returns ``None``, one that fails raises
    ``AssertionError``; one that does not apply (a penalty-gradient check on a
    plugin without a penalty, a zero-strength check on a plugin without an off
    value) returns a ``Skipped``, so that it is never reported as passed.

    Parameters
    ----------
    reason : str
        Why the check did not run.
    """

    reason: str

    def __str__(self) -> str:
        return f"skipped ({self.reason})"


#: What ``zero_strength_params`` may be: the off values, a function of the
#: estimator returning them (or None), or None (no off value).
ZeroStrength = Mapping[str, Any] | Callable[[Any], Mapping[str, Any] | None] | None


def _fail(check: str, plugin: Any, message: str) -> None:
    raise AssertionError(f"{check} failed for {plugin!r}: {message}")


def _implements(plugin: Plugin, hook: str) -> bool:
    return hasattr(getattr(type(plugin), hook, None), _MARKER)


def _fit(plugin: Plugin | None, dtype: type = np.float64, **params: Any) -> MLPClassifier:
    """Train the kit's network on the toy data, with ``plugin`` (a clone) or none."""
    X, y = toy_classification(dtype)
    plugins = [] if plugin is None else [clone(plugin)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(plugins=plugins, **{**TRAINING_PARAMS, **params}).fit(X, y)


def _weights(est: MLPClassifier) -> list[np.ndarray]:
    return [*est.coefs_, *est.intercepts_]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # objects whose == is not a plain bool
        return repr(a) == repr(b)


def _same_params(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------
def check_hook_signatures(plugin: Plugin) -> None:
    """Hook names and argument names match :mod:`ensemblekit.hookspecs`.

    Every method whose name starts with ``ensemblekit_`` must be decorated
    with :data:`ensemblekit.hookimpl` (pluggy silently ignores undecorated
    ones), name an existing training hook, and take only arguments of that
    hook's specification, none with a default value (pluggy never passes
    those).  The plugin also needs a non-empty ``name`` and must register in a
    training plugin manager.

    Parameters
    ----------
    plugin : ensemblekit.Plugin
        The plugin instance to check.
    """
    check = "check_hook_signatures"
    if not isinstance(plugin.name, str) or not plugin.name:
        _fail(check, plugin, "the class needs a non-empty str attribute `name` (the "
                             "name it is registered and addressed by)")
    problems = hook_name_problems(type(plugin))  # the same rule as every fit's
    if problems:
        _fail(check, plugin, problems[0])
    for attr in sorted(dir(type(plugin))):
        if not attr.startswith("ensemblekit_"):
            continue
        method = getattr(type(plugin), attr)
        if not callable(method):
            continue
        if attr == "ensemblekit_register_plugins":
            _fail(check, plugin, "ensemblekit_register_plugins is a discovery hook: "
                                 "implement it as a function of the plugin's module, "
                                 "not as a method of the Plugin class")
        allowed = inspect.signature(_HOOKS[attr]).parameters
        params = list(inspect.signature(method).parameters.values())[1:]  # drop self
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                _fail(check, plugin, f"{attr} takes *{p.name}: hook implementations "
                                     "must name the arguments they use")
            if p.name not in allowed:
                _fail(check, plugin, f"{attr} takes argument {p.name!r}, which the hook "
                                     f"does not have; it has {', '.join(allowed)}")
            if p.default is not p.empty:
                _fail(check, plugin, f"{attr}'s argument {p.name!r} has a default value: "
                                     "pluggy never passes arguments with defaults")
    try:
        Hooks([(plugin.name, clone(plugin))])
    except PluginError as exc:
        _fail(check, plugin, str(exc))


def check_init_and_params(plugin: Plugin) -> None:
    """``__init__`` only stores its arguments; clone and get/set_params round-trip.

    scikit-learn's rules, which nested parameters (``plugins__<name>__<p>``),
    ``clone`` and ``GridSearchCV`` rely on: every ``__init__`` argument is
    stored unchanged under its own name and nothing else is set (validate in
    :meth:`~ensemblekit.Plugin.validate`, set up per-fit state in
    ``ensemblekit_fit_start``).

    Parameters
    ----------
    plugin : ensemblekit.Plugin
        The plugin instance to check.
    """
    check = "check_init_and_params"
    params = plugin.get_params(deep=False)
    fresh = type(plugin)(**params)
    extra = sorted(set(vars(fresh)) - set(params))
    if extra:
        _fail(check, plugin, f"__init__ sets attributes that are not parameters: {extra}; "
                             "set per-fit state in ensemblekit_fit_start instead")
    for key in params:
        marker = object()  # any value must be stored as given, even a nonsensical one
        try:
            stored = vars(type(plugin)(**{**params, key: marker})).get(key)
        except Exception as exc:
            _fail(check, plugin, f"__init__ inspects parameter {key!r} ({type(exc).__name__}: "
                                 f"{exc}); check parameters in validate() instead")
        if stored is not marker:
            _fail(check, plugin, f"__init__ does not store parameter {key!r} unchanged "
                                 "under its own name")
    try:
        cloned = clone(plugin)
    except RuntimeError as exc:
        _fail(check, plugin, f"clone fails: {exc}")
    if type(cloned) is not type(plugin) or not _same_params(
            cloned.get_params(deep=False), params):
        _fail(check, plugin, "clone(plugin) has different parameters")
    if fresh.set_params(**params) is not fresh:
        _fail(check, plugin, "set_params must return the plugin itself")
    try:
        plugin.validate()
    except (TypeError, ValueError) as exc:
        _fail(check, plugin, f"validate() rejects the plugin's own parameters: {exc}")


def check_pickle(plugin: Plugin) -> None:
    """The plugin, and a network trained with it, survive a pickle round-trip.

    Parameters
    ----------
    plugin : ensemblekit.Plugin
        The plugin instance to check.
    """
    check = "check_pickle"
    restored = pickle.loads(pickle.dumps(plugin))
    if type(restored) is not type(plugin) or not _same_params(
            restored.get_params(deep=False), plugin.get_params(deep=False)):
        _fail(check, plugin, "unpickled plugin has different parameters")
    est = _fit(plugin)
    try:
        copy = pickle.loads(pickle.dumps(est))
    except Exception as exc:
        _fail(check, plugin, f"a network trained with it does not pickle: "
                             f"{type(exc).__name__}: {exc} (drop per-fit state such as "
                             "generators in ensemblekit_fit_end)")
    if not getattr(type(plugin), "_stochastic_predict", False):
        X, _ = toy_classification()
        if not np.array_equal(copy.predict_proba(X), est.predict_proba(X)):
            _fail(check, plugin, "the unpickled network predicts differently")


def check_penalty_gradient(plugin: Plugin) -> Skipped | None:
    """What ``ensemblekit_penalty`` adds to the gradients is the gradient of its value.

    The hook is called (through a training plugin manager, after
    ``ensemblekit_fit_start``) on a trained network's weights in float64, and
    the gradient it adds is compared with central finite differences of the
    value it returns, on random weights and biases away from zero (where
    penalties such as L1 have a kink).  Also checks that the value is a finite
    number and that the hook leaves ``coefs`` and ``intercepts`` unchanged.

    Parameters
    ----------
    plugin : ensemblekit.Plugin
        The plugin instance to check.

    Returns
    -------
    Skipped or None
        :class:`Skipped` for a plugin without ``ensemblekit_penalty``.
    """
    check = "check_penalty_gradient"
    if not _implements(plugin, "ensemblekit_penalty"):
        return Skipped("the plugin implements no ensemblekit_penalty")
    est = _fit(plugin)
    X, _ = toy_classification()
    hooks = Hooks([(plugin.name, clone(plugin))])
    if hooks.fit_start is not None:
        hooks.fit_start(estimator=est, rng=np.random.default_rng(0), n_samples=X.shape[0],
                        dtype=np.dtype(np.float64))
    penalty_hook = hooks.penalty
    assert penalty_hook is not None  # the plugin implements ensemblekit_penalty (checked above)
    n_samples = float(TRAINING_PARAMS["batch_size"])
    coefs = [c.astype(np.float64) for c in est.coefs_]
    intercepts = [b.astype(np.float64) for b in est.intercepts_]

    def penalty() -> tuple[float, list[np.ndarray]]:
        grads = [np.zeros_like(a) for a in (*coefs, *intercepts)]
        before = [a.copy() for a in (*coefs, *intercepts)]
        values = penalty_hook(estimator=est, coefs=coefs, intercepts=intercepts,
                              coef_grads=grads[:len(coefs)],
                              intercept_grads=grads[len(coefs):], n_samples=n_samples)
        if not all(np.array_equal(a, b) for a, b in zip((*coefs, *intercepts), before)):
            _fail(check, plugin, "ensemblekit_penalty modified coefs or intercepts "
                                 "(they are read only; add to coef_grads/intercept_grads)")
        try:
            value = float(sum(values))
        except (TypeError, ValueError):
            _fail(check, plugin, f"ensemblekit_penalty returned {values!r}, not a number")
        if not math.isfinite(value):
            _fail(check, plugin, f"ensemblekit_penalty returned {value}")
        return value, grads

    _, grads = penalty()
    rng = np.random.default_rng(0)
    h = 1e-6
    analytic, numeric = [], []
    for array, grad in zip((*coefs, *intercepts), grads):
        candidates = np.flatnonzero(np.abs(array) > 100 * h)
        for i in rng.choice(candidates, size=min(8, candidates.size), replace=False):
            flat = array.reshape(-1)
            w = flat[i]
            flat[i] = w + h
            up, _ = penalty()
            flat[i] = w - h
            down, _ = penalty()
            flat[i] = w
            numeric.append((up - down) / (2 * h))
            analytic.append(grad.reshape(-1)[i])
    analytic_a, numeric_a = np.array(analytic), np.array(numeric)
    scale = max(float(np.abs(numeric_a).max(initial=0.0)), 1e-300)
    if not np.allclose(analytic_a, numeric_a, rtol=1e-4, atol=1e-6 * scale):
        worst = int(np.argmax(np.abs(analytic_a - numeric_a)))
        _fail(check, plugin, "the gradient ensemblekit_penalty adds does not match finite "
                             f"differences of the value it returns: {analytic_a[worst]:.6g} "
                             f"added vs {numeric_a[worst]:.6g} measured")
    return None


def _declared_zero_strength(cls: type[Plugin]) -> ZeroStrength:
    """The parameter values a plugin class declares to switch itself off.

    The nearest class in the MRO that sets ``zero_strength_params`` or the
    former name ``_zero_strength_params`` decides; the former is still
    honoured, with a ``DeprecationWarning`` naming the class.

    Parameters
    ----------
    cls : type
        A :class:`~ensemblekit.Plugin` subclass.

    Returns
    -------
    dict, callable or None
        The declared values, a function of the estimator returning them, or
        None when the plugin has no off value.
    """
    for klass in cls.__mro__:
        if "zero_strength_params" in vars(klass):
            declared = vars(klass)["zero_strength_params"]
            # a function in the class body, plain or a staticmethod: not bound
            return declared.__func__ if isinstance(declared, staticmethod) else declared
        if "_zero_strength_params" in vars(klass):
            warnings.warn(
                f"{klass.__module__}.{klass.__qualname__} declares _zero_strength_params; "
                "rename it zero_strength_params (the public Plugin attribute): the "
                "underscore name is deprecated and will stop being read",
                DeprecationWarning, stacklevel=3)
            return vars(klass)["_zero_strength_params"]
    return None


def check_zero_strength(plugin: Plugin,
                        zero_strength_params: ZeroStrength = None) -> Skipped | None:
    """At zero strength the plugin changes nothing: training equals no plugin.

    The parameters that switch the plugin off come from
    ``zero_strength_params`` or else the class attribute
    :attr:`Plugin.zero_strength_params <ensemblekit.Plugin>` (e.g.
    ``{"alpha": 0.0}``).  Either may be a function of the estimator the check
    trains (an unfitted ``MLPClassifier``) returning the values, or None when
    that estimator has none, for a plugin whose off value depends on the
    network.  A plugin without an off value (None) is *skipped*, not passed.  A
    class that still declares the former name ``_zero_strength_params`` is
    read too, with a ``DeprecationWarning`` naming the class.  The same
    random stream must be used: a plugin that still draws random numbers at
    zero strength changes the shuffling and fails.

    Parameters
    ----------
    plugin : ensemblekit.Plugin
        The plugin instance to check.
    zero_strength_params : dict or callable, optional
        Parameter values that switch the plugin off, or
        ``f(estimator) -> dict or None``.

    Returns
    -------
    Skipped or None
        :class:`Skipped` when the plugin has no off value (for this estimator).
    """
    check = "check_zero_strength"
    zero = (zero_strength_params if zero_strength_params is not None
            else _declared_zero_strength(type(plugin)))
    if zero is None:
        return Skipped("the plugin declares no off value: zero_strength_params is None")
    if callable(zero):
        zero = zero(MLPClassifier(**TRAINING_PARAMS))
        if zero is None:
            return Skipped("zero_strength_params(estimator) returned None: no off value "
                           "for the check's estimator")
    unknown = sorted(set(zero) - set(plugin.get_params(deep=False)))
    if unknown:
        _fail(check, plugin, f"zero-strength parameters {unknown} are not parameters of "
                             "the plugin")
    off = _fit(clone(plugin).set_params(**zero))
    none = _fit(None)
    for a, b in zip(_weights(off), _weights(none)):
        if not np.allclose(a, b, rtol=1e-12, atol=1e-15):
            _fail(check, plugin, f"with {dict(zero)} training differs from training "
                                 "without the plugin")
    if not np.allclose(off.loss_curve_, none.loss_curve_, rtol=1e-12, atol=0):
        _fail(check, plugin, f"with {dict(zero)} the loss differs from the loss without "
                             "the plugin")
    return None


def check_train_vs_predict(plugin: Plugin) -> None:
    """Prediction is deterministic and untouched unless the plugin has an inference hook.

    ``predict_proba`` twice gives the same result (unless the class sets
    ``_stochastic_predict = True``), and a plugin that does not implement
    ``ensemblekit_predict_hidden`` predicts exactly as the same weights without
    the plugin do: training-time transformations (dropout, noise) must not
    leak into prediction.

    Parameters
    ----------
    plugin : ensemblekit.Plugin
        The plugin instance to check.
    """
    check = "check_train_vs_predict"
    X, _ = toy_classification()
    est = _fit(plugin)
    first = est.predict_proba(X)
    if not getattr(type(plugin), "_stochastic_predict", False) and not np.array_equal(
            first, est.predict_proba(X)):
        _fail(check, plugin, "predict_proba gives different results on the same input; "
                             "declare _stochastic_predict = True on the class if intended")
    if _implements(plugin, "ensemblekit_predict_hidden"):
        return
    twin = _fit(None, max_iter=1)
    for attr in ("coefs_", "intercepts_"):
        for dst, src in zip(getattr(twin, attr), getattr(est, attr)):
            dst[...] = src
    if not np.array_equal(twin.predict_proba(X), first):
        _fail(check, plugin, "predictions differ from the same weights without the plugin, "
                             "though it implements no ensemblekit_predict_hidden")


def check_determinism(plugin: Plugin) -> None:
    """A fixed ``random_state`` gives the same fit, and numpy's global RNG is untouched.

    Randomness must come from the generator handed to
    ``ensemblekit_fit_start``, never from ``np.random.*``.

    Parameters
    ----------
    plugin : ensemblekit.Plugin
        The plugin instance to check.
    """
    check = "check_determinism"
    # the Mersenne Twister's key and position (the legacy tuple's items 1 and 2)
    state = np.random.get_state(legacy=False)["state"]  # noqa: NPY002 - checking it is untouched
    first, second = _fit(plugin), _fit(plugin)
    after = np.random.get_state(legacy=False)["state"]  # noqa: NPY002
    if not (np.array_equal(state["key"], after["key"]) and state["pos"] == after["pos"]):
        _fail(check, plugin, "training drew from numpy's global random state; draw from "
                             "the rng argument of ensemblekit_fit_start")
    if not all(np.array_equal(a, b) for a, b in zip(_weights(first), _weights(second))) or (
            first.loss_curve_ != second.loss_curve_):
        _fail(check, plugin, "two fits with the same random_state differ")


def check_float32(plugin: Plugin) -> None:
    """float32 training stays float32: weights, predictions, and a finite loss.

    Parameters
    ----------
    plugin : ensemblekit.Plugin
        The plugin instance to check.
    """
    check = "check_float32"
    est = _fit(plugin, dtype=np.float32)
    X, _ = toy_classification(np.float32)
    dtypes = {str(a.dtype) for a in _weights(est)} | {str(est.predict_proba(X).dtype)}
    if dtypes != {"float32"}:
        _fail(check, plugin, f"float32 training produced dtypes {sorted(dtypes)}")
    if not np.isfinite(est.loss_curve_).all():
        _fail(check, plugin, f"float32 training gave a non-finite loss {est.loss_curve_}")


# --------------------------------------------------------------------------
# running them
# --------------------------------------------------------------------------
def plugin_checks(plugin: Plugin, *, zero_strength_params: ZeroStrength = None
                  ) -> Iterator[Callable[[Plugin], Skipped | None]]:
    """Yield the checks :func:`check_plugin` runs, each a callable taking the plugin.

    Parameters
    ----------
    plugin : ensemblekit.Plugin
        The plugin the checks are for.
    zero_strength_params : dict or callable, optional
        Passed to :func:`check_zero_strength`.

    Yields
    ------
    check : callable
        ``check(plugin)`` returns None when it passes, a :class:`Skipped`
        when it does not apply, and raises ``AssertionError`` naming the check
        and the problem when it fails.
    """
    _check_is_plugin(plugin)
    yield check_hook_signatures
    yield check_init_and_params
    yield check_pickle
    yield check_penalty_gradient
    yield functools.partial(check_zero_strength, zero_strength_params=zero_strength_params)
    yield check_train_vs_predict
    yield check_determinism
    yield check_float32


def check_plugin(plugin: Plugin, *, zero_strength_params: ZeroStrength = None
                 ) -> dict[str, str]:
    """Run every conformance check on ``plugin``; raise at the first failure.

    The checks: hook names and signatures against the specifications,
    ``__init__`` purity and clone/``get_params`` round-trip, pickling,
    finite-difference check of the penalty's gradient, zero strength equals
    no plugin, deterministic prediction untouched by training-only plugins,
    determinism for a fixed ``random_state`` (and no global RNG), float32
    kept.  Each trains a small network on iris for a few epochs; the whole
    run takes well under a second.

    Parameters
    ----------
    plugin : ensemblekit.Plugin
        An instance of the plugin class (its parameters are used as given).
    zero_strength_params : dict or callable, optional
        Parameter values that switch the plugin off, or a function of the
        estimator returning them; default the class attribute
        ``zero_strength_params`` (the check is skipped when neither is given).

    Returns
    -------
    dict
        ``{check name: "passed" or "skipped (reason)"}``, in the order run:
        a check that does not apply is reported as skipped, never as passed.

    Raises
    ------
    AssertionError
        Naming the failed check, the plugin and the problem.
    TypeError
        If ``plugin`` is not an :class:`ensemblekit.Plugin` instance.

    Examples
    --------
    >>> from ensemblekit import WeightDecay
    >>> from ensemblekit.testing import check_plugin
    >>> results = check_plugin(WeightDecay(alpha=1e-3), zero_strength_params={"alpha": 0.0})
    >>> results["check_zero_strength"]
    'passed'
    """
    results = {}
    for check in plugin_checks(plugin, zero_strength_params=zero_strength_params):
        outcome = check(plugin)
        results[_check_name(check)] = "passed" if outcome is None else str(outcome)
    return results


def _pytest_skipping(check: Callable[[Plugin], Skipped | None]) -> Callable[[Plugin], None]:
    """Wrap a check so that a :class:`Skipped` outcome is a pytest skip."""
    import pytest

    def run(plugin: Plugin) -> None:
        outcome = check(plugin)
        if outcome is not None:
            pytest.skip(outcome.reason)

    run.__name__ = run.__qualname__ = _check_name(check)
    return run


def _check_name(check: Callable) -> str:
    return getattr(check, "func", check).__name__


def parametrize_with_plugin_checks(
    plugins: Iterable[Plugin],
    *,
    zero_strength_params: Mapping[str, ZeroStrength] | None = None,
) -> Any:
    """A ``pytest.mark.parametrize`` running every check on every plugin.

    The decorated test takes ``plugin`` and ``check`` and calls
    ``check(plugin)``: each (plugin, check) pair is its own test, with an id
    such as ``MaxNorm(max_norm=2.0)-check_pickle``.

    Parameters
    ----------
    plugins : iterable of ensemblekit.Plugin
        Plugin instances.
    zero_strength_params : dict, optional
        ``{plugin name: {param: value} or callable}`` for plugins whose class
        declares no ``zero_strength_params``.  A check that does not apply to
        a plugin is reported by pytest as skipped, with the reason.

    Returns
    -------
    decorator
        The ``pytest.mark.parametrize("plugin, check", ...)`` mark.

    Examples
    --------
    >>> from ensemblekit import Dropout
    >>> from ensemblekit.testing import parametrize_with_plugin_checks
    >>> @parametrize_with_plugin_checks([Dropout(0.3)],
    ...                                 zero_strength_params={"dropout": {"rate": 0}})
    ... def test_dropout(plugin, check):
    ...     check(plugin)
    """
    import pytest

    zero = zero_strength_params or {}
    cases = []
    for plugin in plugins:
        _check_is_plugin(plugin)
        for check in plugin_checks(plugin, zero_strength_params=zero.get(plugin.name)):
            cases.append(pytest.param(plugin, _pytest_skipping(check),
                                      id=f"{plugin!r}-{_check_name(check)}"))
    return pytest.mark.parametrize("plugin, check", cases)


def _check_is_plugin(plugin: Any) -> None:
    if isinstance(plugin, type):
        raise TypeError(f"pass an instance of the plugin, not the class {plugin.__name__}")
    if not isinstance(plugin, Plugin):
        raise TypeError(f"expected an ensemblekit.Plugin instance, got "
                        f"{type(plugin).__name__} {plugin!r}")
