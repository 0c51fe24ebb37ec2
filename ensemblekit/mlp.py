"""Multi-layer perceptrons: a drop-in superset of scikit-learn's.

``MLPClassifier`` and ``MLPRegressor`` take every constructor parameter of
:mod:`sklearn.neural_network`'s estimators, with the same names, defaults and
meaning, and set the same fitted attributes.  On top of them:

* ``solver`` also accepts ``"adagrad"`` and ``"rmsprop"``;
* ``weight_init`` chooses Glorot (scikit-learn's), He, Xavier or a fixed std;
* ``batch_norm`` normalises every hidden pre-activation;
* ``plugins`` fills the training loop's hook points (see
  :mod:`ensemblekit.hookspecs`); ``alpha`` itself is served by the
  :class:`~ensemblekit.WeightDecay` plugin;
* ``on_divergence`` says what a non-finite loss does;
* ``history_`` records every epoch.

All trainable arrays live in one flat buffer per fit (``coefs_`` and
``intercepts_`` are views into it), so optimizers update every parameter in
one vectorised pass and L-BFGS needs no packing.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np
import scipy.optimize
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import _layers, _network, _threads
from ._network import Architecture, Buffers, Grads, Layout, Params, make_buffers
from ._optimizers import (
    AdaGradOptimizer,
    AdamOptimizer,
    BaseOptimizer,
    RMSpropOptimizer,
    SGDOptimizer,
)
from ._random import make_rng
from ._sklearn import Interval, Options, StrOptions, check_sample_weight
from ._stack import user_stacklevel
from ._state import unchanged_on_failure
from ._typing import ArrayLike, MatrixLike, RandomStateLike
from .default_plugins.weight_decay import WeightDecay
from .exceptions import (
    INTERRUPTED,
    DivergenceWarning,
    PluginError,
    TrainingDiverged,
    TrainingInterrupted,
)
from .plugins import (
    ENSEMBLE_ROLES,
    Hooks,
    Plugin,
    get_registry,
    plugin_name,
    plugin_role,
    resolve_plugins,
)

__all__ = ["CLASSIFIER_FITTED_ATTRIBUTES", "FITTED_ATTRIBUTES", "RUNTIME_ATTRIBUTES",
           "DivergenceWarning", "MLPClassifier", "MLPRegressor", "TrainingDiverged",
           "TrainingInterrupted", "restore_fitted"]

_STOCHASTIC_SOLVERS = ("sgd", "adam", "adagrad", "rmsprop")
#: An epoch whose loss exceeds this many times the larger of the loss of the
#: call's first mini-batch (the weights it started from) and the best constant
#: predictor's loss has diverged, finite or not (docs/reliability.md: the rule
#: and its measured false-positive rate).
EXPLOSION_FACTOR = 10.0
_DEFAULT_ALPHA = 0.0001


def _plain_input(est: BaseMLP, X: Any) -> bool:
    """Whether ``X`` is what ``validate_data`` would pass through unchanged.

    A fitted network without feature names, and a finite 2-D ndarray of the
    weights' dtype with the right number of columns: predicting one row
    then costs a few microseconds of checks instead of ~100.
    """
    coefs = est.__dict__.get("coefs_")
    if (coefs is None or type(X) is not np.ndarray or X.ndim != 2
            or X.dtype != coefs[0].dtype or X.shape[1] != coefs[0].shape[0]
            or X.shape[0] == 0 or "feature_names_in_" in est.__dict__):
        return False
    # a sum is finite only if every value is (one pass, no temporary the size
    # of X); an overflowing sum of finite values takes the full check
    return bool(np.isfinite(X.sum()) or np.isfinite(X).all())


class _Callbacks(NamedTuple):
    """A fit's hooks as the network's callbacks (``None`` where no plugin hooks in)."""

    on_hidden: Callable[..., Any] | None
    on_delta: Callable[..., Any] | None
    penalty: Callable[[Params, Grads, float], float] | None


def _bound(hook: Callable[..., Any] | None, estimator: BaseMLP
           ) -> Callable[..., Any] | None:
    """``hook`` with ``estimator=`` filled in, or ``None``."""
    return None if hook is None else functools.partial(hook, estimator=estimator)


@dataclass
class _Run:
    """What one stochastic fit works with, allocated once: the loop's state, named."""

    steps_per_epoch: int
    schedule: str | None  # the plugin implementing ensemblekit_learning_rate
    constant_loss: float  # the best constant predictor's loss on the training rows
    initial_loss: float | None  # the first mini-batch's loss, before any step of this call

    X: Any  # the training rows (dense or sparse), the validation split taken out
    y: np.ndarray
    sample_weight: np.ndarray | None
    validation: tuple | None  # (X_val, y_val, sw_val) when validation is monitored
    batch_size: int
    rng: np.random.Generator
    hooks: Hooks
    callbacks: _Callbacks
    arch: Architecture
    flat: np.ndarray  # every parameter, running statistics included
    flat_trainable: np.ndarray  # flat[:n_trainable], what the optimizer updates
    params: Params
    trainable: list[np.ndarray]  # the hooks' ``params``
    gflat: np.ndarray
    grads: Grads
    grad_arrays: list[np.ndarray]  # the hooks' ``grads``
    bufs: Buffers
    x_buf: np.ndarray | None  # batch gather buffers (None for sparse X)
    y_buf: np.ndarray
    order: np.ndarray  # this epoch's row order
    last_finite: np.ndarray
    before_last: np.ndarray | None
    best_params: np.ndarray | None


class BaseMLP(BaseEstimator):
    """Shared machinery of :class:`MLPClassifier` and :class:`MLPRegressor`."""

    plugins: Sequence[Plugin | str | tuple[str, Plugin]] | None

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam", "adagrad", "rmsprop"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state", np.random.Generator],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "monitor_validation": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "weight_init": [
            StrOptions({"glorot", "he", "xavier"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "batch_norm": ["boolean"],
        "plugins": [list, tuple, None],
        "on_divergence": [StrOptions({"stop", "raise"})],
        "dtype": [StrOptions({"float32", "float64"}), None],
    }

    # ------------------------------------------------------------------
    # nested plugin parameters (``plugins__<name>__<param>``)
    # ------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Get this estimator's parameters.

        Parameters
        ----------
        deep : bool, default=True
            Also return each plugin as ``plugins__<name>`` and its parameters
            as ``plugins__<name>__<param>``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        out = super().get_params(deep=False)
        if deep and isinstance(self.plugins, (list, tuple)):
            for entry in self.plugins:
                name = plugin_name(entry)
                obj = entry[1] if isinstance(entry, tuple) else entry
                out[f"plugins__{name}"] = obj
                if hasattr(obj, "get_params"):
                    for key, value in obj.get_params(deep=True).items():
                        out[f"plugins__{name}__{key}"] = value
        return out

    def set_params(self, **params: Any) -> BaseMLP:
        """Set parameters, including plugins' (``plugins__dropout__rate=0.3``).

        ``plugins__<name>=None`` switches that plugin off;
        ``plugins__<name>=obj`` replaces it.  A plugin given by its registered
        name is instantiated on first use of one of its parameters.  The
        ``plugins`` list is replaced by a new list, never modified in place.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator
            This estimator.
        """
        nested = {k: v for k, v in params.items() if k.startswith("plugins__")}
        plain = {k: v for k, v in params.items() if k not in nested}
        if "plugins" in plain:
            super().set_params(plugins=plain.pop("plugins"))
        if nested:
            if not isinstance(self.plugins, (list, tuple)):
                raise ValueError(
                    f"Invalid parameter {next(iter(nested))!r}: this estimator has "
                    "no plugins."
                )
            entries = list(self.plugins)
            names = [plugin_name(e) for e in entries]
            for key, value in nested.items():
                name, _, sub = key[len("plugins__"):].partition("__")
                if name not in names:
                    raise ValueError(
                        f"Invalid parameter {key!r}: no plugin named {name!r}; "
                        f"plugins are {names}."
                    )
                i = names.index(name)
                entry = entries[i]
                if not sub:
                    keep_pair = isinstance(entry, tuple) or value is None or (
                        plugin_name(value) != name)
                    entries[i] = (name, value) if keep_pair else value
                    continue
                obj = entry[1] if isinstance(entry, tuple) else entry
                if obj is None:
                    raise ValueError(
                        f"Invalid parameter {key!r}: plugin {name!r} is switched off."
                    )
                if isinstance(obj, str):
                    obj = get_registry().create(obj)
                    entries[i] = (name, obj) if isinstance(entry, tuple) else obj
                obj.set_params(**{sub: value})
            self.plugins = entries
        return super().set_params(**plain)

    # ------------------------------------------------------------------
    # small helpers
    # ------------------------------------------------------------------
    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        for s in sizes:
            if not isinstance(s, Integral) or isinstance(s, bool) or s <= 0:
                raise ValueError(
                    f"hidden_layer_sizes must hold positive integers, got {sizes}."
                )
        return [int(s) for s in sizes]

    def _resolve_plugins(self) -> list[tuple[str, Plugin]]:
        resolved = resolve_plugins(self.plugins)
        for name, plugin in resolved:  # an ensemble's part would silently do nothing here
            role = plugin_role(plugin)
            if role != "training":
                param = next(p for _, r, p in ENSEMBLE_ROLES if r == role)
                raise ValueError(
                    f"plugin {name!r} is an ensemble {role}, not a training plugin: pass "
                    f"it as EnsembleClassifier/EnsembleRegressor({param}={name!r}), not "
                    "in plugins."
                )
        has_wd = any(isinstance(p, WeightDecay) for _, p in resolved)
        if has_wd:
            if self.alpha not in (0, _DEFAULT_ALPHA):
                warnings.warn(
                    f"alpha={self.alpha} is ignored because a WeightDecay plugin is "
                    "configured; the plugin's strength is used (one L2 term only).",
                    UserWarning,
                    stacklevel=user_stacklevel(),
                )
        elif self.alpha > 0:
            names = {n for n, _ in resolved}
            name = "weight_decay" if "weight_decay" not in names else "alpha"
            resolved.append((name, WeightDecay(alpha=self.alpha)))
        return resolved

    @property
    def _optimizer(self) -> BaseOptimizer:
        """scikit-learn's private name of :attr:`optimizer_`, which its own tests read."""
        return self.optimizer_

    def _make_optimizer(self) -> BaseOptimizer:
        if self.solver == "sgd":
            return SGDOptimizer(self.learning_rate_init, self.learning_rate,
                                self.momentum, self.nesterovs_momentum, self.power_t)
        if self.solver == "adam":
            return AdamOptimizer(self.learning_rate_init, self.beta_1, self.beta_2,
                                 self.epsilon)
        if self.solver == "adagrad":
            return AdaGradOptimizer(self.learning_rate_init, self.epsilon)
        return RMSpropOptimizer(self.learning_rate_init, self.beta_2, self.epsilon)

    def _dtypes(self):
        """The dtype(s) X is converted to: float32 stays float32 unless ``dtype``."""
        if self.dtype is None:
            return (np.float64, np.float32)
        return np.dtype(self.dtype).type

    def _output_loss(self) -> str:
        # not scikit-learn's is_classifier: its tags cost ~4 us of a 40 us one-row predict
        if not isinstance(self, ClassifierMixin):
            return self.loss
        return "log_loss" if self.out_activation_ == "softmax" else "binary_log_loss"

    # ------------------------------------------------------------------
    # parameters
    # ------------------------------------------------------------------
    def _initialize(self, y: np.ndarray, layer_units: list[int], dtype,
                    rng: np.random.Generator) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_epochs_ = 0
        self.n_steps_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            coef, intercept = _layers.init_layer(rng, fan_in, fan_out, self.weight_init,
                                                 self.activation, dtype)
            self.coefs_.append(coef)
            self.intercepts_.append(intercept)
        hidden = layer_units[1:-1] if self.batch_norm else []
        self.bn_gammas_ = [np.ones(h, dtype=dtype) for h in hidden]
        self.bn_betas_ = [np.zeros(h, dtype=dtype) for h in hidden]
        self.bn_running_means_ = [np.zeros(h, dtype=dtype) for h in hidden]
        self.bn_running_vars_ = [np.ones(h, dtype=dtype) for h in hidden]
        self.history_: list[dict[str, Any]] = []
        self._stopping_state(fresh=True)

    def _stopping_state(self, fresh: bool) -> None:
        """Start, or carry over, the stochastic solvers' stopping bookkeeping.

        A first fit starts it empty.  A warm-started fit carries it over, and
        starts what the previous fit left out: after L-BFGS (no loss curve)
        all of it; after other ``early_stopping`` or ``monitor_validation``
        settings, the new settings' part -- epochs trained before validation
        was monitored get a NaN validation score (``validation_scores_`` stays
        one entry per epoch), and switching early stopping off takes the best
        loss so far from the loss curve.
        """
        if self.solver not in _STOCHASTIC_SOLVERS:
            return
        started = fresh or not hasattr(self, "loss_curve_")
        if started:
            self.loss_curve_: list[float] = []
            self.validation_scores_: list[float] | None = None
            self.best_validation_score_: float | None = None
            self.best_loss_: float | None = None
        if not self._monitors_validation():
            self.validation_scores_ = None
            self.best_validation_score_ = None
        elif self.validation_scores_ is None:
            self.validation_scores_ = [np.nan] * len(self.loss_curve_)
            self.best_validation_score_ = -np.inf
        # the stopping criterion: the validation score, or the training loss
        if self.early_stopping and (started or self.best_loss_ is not None):
            self.best_loss_ = None
            self._no_improvement_count = 0
        elif not self.early_stopping and self.best_loss_ is None:
            self.best_loss_ = min(self.loss_curve_, default=np.inf)
            self._no_improvement_count = 0

    def _monitors_validation(self) -> bool:
        """Whether a fit holds out ``validation_fraction`` and scores it every epoch."""
        return bool(self.early_stopping or self.monitor_validation)

    def _param_lists(self) -> list[list[np.ndarray]]:
        n_hidden = self.n_layers_ - 2
        if self.batch_norm:
            for attr, fill in (("bn_gammas_", 1.0), ("bn_betas_", 0.0),
                               ("bn_running_means_", 0.0), ("bn_running_vars_", 1.0)):
                if len(getattr(self, attr, [])) != n_hidden:
                    setattr(self, attr, [np.full(c.shape[1], fill, dtype=c.dtype)
                                         for c in self.coefs_[:-1]])
        else:
            self.bn_gammas_, self.bn_betas_ = [], []
            self.bn_running_means_, self.bn_running_vars_ = [], []
        return [self.coefs_, self.intercepts_, self.bn_gammas_, self.bn_betas_,
                self.bn_running_means_, self.bn_running_vars_]

    def _pack(self, layout: Layout, dtype) -> tuple[np.ndarray, Params]:
        """Copy every parameter into one flat buffer and rebind the attributes to its views."""
        flat, params = layout.pack(Params(*self._param_lists()), dtype)
        (self.coefs_, self.intercepts_, self.bn_gammas_, self.bn_betas_,
         self.bn_running_means_, self.bn_running_vars_) = params
        return flat, params

    def _owned_arrays(self) -> dict[str, list[np.ndarray]]:
        """The trainable arrays a fit owns: hooks may change them only in place."""
        return {"estimator.coefs_": self.coefs_, "estimator.intercepts_": self.intercepts_,
                "estimator.bn_gammas_": self.bn_gammas_,
                "estimator.bn_betas_": self.bn_betas_}

    # ------------------------------------------------------------------
    # the network (ensemblekit._network), bound to this estimator
    # ------------------------------------------------------------------
    def _architecture(self) -> Architecture:
        return Architecture(self.activation, self.out_activation_, self._output_loss(),
                            self.batch_norm)

    def _callbacks(self, hooks: Hooks) -> _Callbacks:
        """The network's callbacks: this fit's hooks, called with ``estimator=self``."""
        penalty = None
        if hooks.penalty is not None:
            penalty_hook = hooks.penalty

            def penalty(params: Params, grads: Grads, n_samples: float) -> float:
                return float(sum(penalty_hook(
                    estimator=self, coefs=params.coefs, intercepts=params.intercepts,
                    coef_grads=grads.coefs, intercept_grads=grads.intercepts,
                    n_samples=n_samples)))

        return _Callbacks(_bound(hooks.forward_hidden, self),
                          _bound(hooks.backward_hidden, self), penalty)

    def _forward_predict(self, X) -> np.ndarray:
        """Inference forward pass (running batch-norm statistics, no dropout)."""
        params = Params(self.coefs_, self.intercepts_, getattr(self, "bn_gammas_", []),
                        getattr(self, "bn_betas_", []), getattr(self, "bn_running_means_", []),
                        getattr(self, "bn_running_vars_", []))
        return _network.forward_predict(
            self._architecture(), params, X,
            _bound(getattr(self, "_predict_hidden", None), self))

    # ------------------------------------------------------------------
    # fitting
    # ------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental: bool = False):
        # a fit that raises (bad input, divergence with on_divergence="raise", a
        # failing plugin) leaves the network as it was: fitted, warm-started or not
        with unchanged_on_failure(self):
            return self._fit_guarded(X, y, sample_weight, incremental)

    def _fit_guarded(self, X, y, sample_weight, incremental: bool):
        self._validate_params()
        if self.on_divergence not in ("stop", "raise"):
            raise ValueError(f"on_divergence must be 'stop' or 'raise', got "
                             f"{self.on_divergence!r}")
        if self.monitor_validation and self.solver not in _STOCHASTIC_SOLVERS:
            raise ValueError(
                f"monitor_validation=True scores the held-out rows every epoch, and "
                f"solver={self.solver!r} has no epochs; use a stochastic solver "
                f"({', '.join(repr(s) for s in _STOCHASTIC_SOLVERS)})")
        hidden_sizes = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        y = np.ascontiguousarray(y, dtype=X.dtype)
        n_features = X.shape[1]
        layer_units = [n_features] + hidden_sizes + [y.shape[1]]
        rng = make_rng(self.random_state)
        plugins = self._resolve_plugins()
        if first_pass:
            self._initialize(y, layer_units, X.dtype, rng)
        elif y.shape[1] != self.n_outputs_ or len(self.coefs_) != len(layer_units) - 1:
            raise ValueError(
                f"the network has {self.n_outputs_} outputs and "
                f"{len(self.coefs_) - 1} hidden layers, but y has {y.shape[1]} columns "
                f"and hidden_layer_sizes={hidden_sizes}; refit without warm_start."
            )
        else:  # warm start: the solver or the validation settings may differ
            self._stopping_state(fresh=False)
        self.n_outputs_ = y.shape[1]
        if not hasattr(self, "history_"):  # weights set by hand, not by a fit
            self.history_ = []
        self.plugins_ = plugins
        layout = Layout(layer_units, self.batch_norm)
        flat, params = self._pack(layout, X.dtype)
        hooks = Hooks(plugins, owned=self._owned_arrays)
        # inference hooks are resolved once per fit, not per predict call (a plugin
        # manager costs ~0.5 ms to build, more than predicting a row), and before
        # training: early stopping scores the validation split with them
        self._predict_hidden = hooks.direct("ensemblekit_predict_hidden")
        # the thread policy (ensemblekit._threads): BLAS threads for this fit's size
        stochastic = self.solver in _STOCHASTIC_SOLVERS
        rows = X.shape[0] if not stochastic else min(
            X.shape[0], 200 if self.batch_size == "auto" else int(self.batch_size))
        with _threads.limit_for_work(layer_units, rows):
            if stochastic:
                run = self._start_run(X, y, sample_weight, layout, flat, params, hooks,
                                      rng, incremental)
                self._fit_loop(run, incremental)
            else:
                self._fit_lbfgs(X, y, sample_weight, layout, flat, params, hooks, rng)
        if not np.isfinite(flat).all():
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may "
                "contain large values and need to be preprocessed."
            )
        if hooks.fit_end is not None:
            hooks.fit_end(estimator=self)
        return self

    def _fit_lbfgs(self, X, y, sample_weight, layout: Layout, flat: np.ndarray,
                   params: Params, hooks: Hooks, rng: np.random.Generator) -> None:
        if hooks.fit_start is not None:
            hooks.fit_start(estimator=self, rng=rng, n_samples=X.shape[0],
                            dtype=X.dtype)
        n_train = layout.n_trainable
        arch = self._architecture()
        callbacks = self._callbacks(hooks)
        bufs = make_buffers(layout.layer_units, X.shape[0], X.dtype,
                            callbacks.on_hidden is not None, self.batch_norm)
        gflat = np.zeros(n_train, dtype=X.dtype)
        grads = layout.grads(gflat)

        def fun(x):
            flat[:n_train] = x
            loss = _network.loss_and_grad(arch, params, X, y, sample_weight, bufs, grads,
                                          0.0, *callbacks)
            return loss, gflat.astype(np.float64)

        x0 = flat[:n_train].astype(np.float64)
        # the last point L-BFGS accepted
        accepted: dict[str, Any] = {"x": x0, "fun": np.nan, "nit": 0}

        def record(intermediate_result):
            self.history_.append({"epoch": len(self.history_) + 1,
                                  "loss": float(intermediate_result.fun)})
            accepted.update(x=intermediate_result.x.copy(),
                            fun=float(intermediate_result.fun), nit=len(self.history_))

        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                res = scipy.optimize.minimize(
                    fun, x0, method="L-BFGS-B", jac=True, callback=record,
                    options={"maxfun": self.max_fun, "maxiter": self.max_iter,
                             "gtol": self.tol},
                )
        except KeyboardInterrupt:
            # as the stochastic solvers do: keep the last accepted iterate (not
            # the line search's trial point) and say so
            warnings.warn(INTERRUPTED, TrainingInterrupted, stacklevel=user_stacklevel())
            res = scipy.optimize.OptimizeResult(x=accepted["x"], fun=accepted["fun"],
                                                nit=accepted["nit"], status=0)
            if accepted["nit"] == 0:  # not one iteration: the loss of the start
                res.fun = fun(x0)[0]
        if not (np.isfinite(res.fun) and np.isfinite(res.x).all()):
            if not np.isfinite(accepted["fun"]):  # no finite point to keep
                raise TrainingDiverged(
                    f"L-BFGS produced a non-finite loss ({res.fun}) from its first "
                    "iteration on; the input data may contain large values and need to "
                    "be preprocessed."
                )
            if self.on_divergence == "raise":
                raise TrainingDiverged(
                    f"L-BFGS produced a non-finite loss ({res.fun}); scale the input "
                    "features or lower the network size."
                )
            warnings.warn(
                f"L-BFGS ended with a non-finite loss ({res.fun}); keeping its last "
                f"finite iterate (iteration {accepted['nit']}). Scale the input features "
                "or lower the network size.",
                DivergenceWarning,
                stacklevel=user_stacklevel(),
            )
            res = scipy.optimize.OptimizeResult(x=accepted["x"], fun=accepted["fun"],
                                                nit=accepted["nit"], status=0)
        flat[:n_train] = res.x
        self.n_iter_ = int(res.nit)
        self.loss_ = float(res.fun)
        if res.status != 0:
            msg = res.message.decode() if isinstance(res.message, bytes) else res.message
            warnings.warn(
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                f"(status={res.status}): {msg}. Increase max_iter or max_fun, or "
                "scale the data.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        if self.batch_norm:  # running statistics = the final full-batch statistics
            _network.forward_train(arch, params, X, bufs, 0.0, sample_weight)

    def _split_validation(self, X, y, sample_weight, rng):
        # stratify on the binarised labels (bool, as scikit-learn does)
        stratify = y.astype(bool) if (is_classifier(self) and self.n_outputs_ == 1) else None
        arrays = [X, y] + ([sample_weight] if sample_weight is not None else [])
        parts = train_test_split(*arrays, random_state=int(rng.integers(2**31 - 1)),
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, y_train, y_val = parts[:4]
        sw_train, sw_val = (parts[4], parts[5]) if sample_weight is not None else (
            None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or "
                "the size of your dataset."
            )
        return X_train, X_val, y_train, y_val, sw_train, sw_val

    # The stochastic solvers' loop, in named steps (skorch's fit_loop ->
    # run_single_epoch -> train_step): _start_run sets up, _fit_loop runs the
    # epochs, _run_epoch the mini-batches of one, _train_step one update, and
    # _end_epoch does an epoch's bookkeeping and decides whether to go on.
    def _start_run(self, X, y, sample_weight, layout: Layout, flat: np.ndarray,
                   params: Params, hooks: Hooks, rng: np.random.Generator,
                   incremental: bool) -> _Run:
        """Everything a stochastic fit works with, allocated once."""
        if not incremental or not hasattr(self, "optimizer_"):
            self.optimizer_ = self._make_optimizer()
        if not hasattr(self, "n_steps_"):  # weights set by hand, or a model file of 0.1
            self.n_epochs_ = self.n_steps_ = 0
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if self.monitor_validation and incremental:
            raise ValueError("partial_fit does not support monitor_validation=True: "
                             "score your own held-out rows between calls")
        validation = None
        if self._monitors_validation():
            X, X_val, y, y_val, sample_weight, sw_val = self._split_validation(
                X, y, sample_weight, rng)
            validation = (X_val, y_val, sw_val)
        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    f"Got `batch_size`={self.batch_size} larger than the number of "
                    f"training samples ({n_samples}); it is clipped to {n_samples}.",
                    stacklevel=user_stacklevel(),
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        if hooks.fit_start is not None:
            hooks.fit_start(estimator=self, rng=rng, n_samples=n_samples, dtype=X.dtype)
        gflat = np.zeros(layout.n_trainable, dtype=X.dtype)
        grads = layout.grads(gflat)
        callbacks = self._callbacks(hooks)
        dense = not sparse.issparse(X)
        return _Run(
            steps_per_epoch=-(-n_samples // batch_size),
            constant_loss=_network.constant_loss(self._output_loss(), y, sample_weight),
            initial_loss=None,
            schedule=next(iter(hooks.implementers("ensemblekit_learning_rate")), None),
            X=X, y=y, sample_weight=sample_weight, validation=validation,
            batch_size=batch_size, rng=rng, hooks=hooks, callbacks=callbacks,
            arch=self._architecture(), flat=flat, flat_trainable=flat[:layout.n_trainable],
            params=params, trainable=params.trainable(), gflat=gflat, grads=grads,
            grad_arrays=grads.trainable(),
            bufs=make_buffers(layout.layer_units, batch_size, X.dtype,
                              callbacks.on_hidden is not None, self.batch_norm),
            x_buf=np.empty((batch_size, X.shape[1]), dtype=X.dtype) if dense else None,
            y_buf=np.empty((batch_size, y.shape[1]), dtype=X.dtype),
            order=np.arange(n_samples), last_finite=flat.copy(),
            # the weights before the last finished epoch: its final step is judged
            # at the end
            before_last=None if incremental else flat.copy(),
            best_params=flat.copy() if self.early_stopping else None,
        )

    def _fit_loop(self, run: _Run, incremental: bool) -> None:
        """Run epochs until the solver stops, then judge and keep the right weights."""
        diverged = False
        self.n_iter_ = 0  # epochs of this call, as scikit-learn counts them
        try:
            for epoch in range(self.max_iter):
                loss = self._run_epoch(run, epoch)
                outcome = self._end_epoch(run, epoch, loss, incremental)
                if outcome is not None:
                    diverged = outcome == "diverged"
                    break
        except KeyboardInterrupt:
            warnings.warn(INTERRUPTED, TrainingInterrupted, stacklevel=user_stacklevel())
            if not np.isfinite(run.flat).all():
                np.copyto(run.flat, run.last_finite)
        else:
            if run.before_last is not None and not diverged and self.n_iter_ > 0:
                diverged = self._last_step_diverged(run.X[:run.batch_size], run.flat,
                                                    run.before_last)
        if run.best_params is not None:  # early stopping: back to the best epoch's weights
            assert self.best_validation_score_ is not None
            if not (diverged and not np.isfinite(self.best_validation_score_)):
                np.copyto(run.flat, run.best_params)

    def _run_epoch(self, run: _Run, epoch: int) -> float:
        """One pass over the training rows in mini-batches; its mean loss."""
        hooks = run.hooks
        if hooks.epoch_start is not None:
            hooks.epoch_start(estimator=self, epoch=epoch, global_epoch=self.n_epochs_)
        n_samples = run.X.shape[0]
        if self.shuffle:
            run.order = run.rng.permutation(n_samples)
        accumulated = 0.0
        for batch, start in enumerate(range(0, n_samples, run.batch_size)):
            rows = run.order[start:start + run.batch_size]
            loss = self._train_step(run, batch, rows)
            if run.initial_loss is None:
                run.initial_loss = loss
            accumulated += loss * len(rows)
        return accumulated / n_samples

    def _train_step(self, run: _Run, batch: int, rows: np.ndarray) -> float:
        """Gather one mini-batch, compute its loss and gradient, update; its loss."""
        hooks, nb, step = run.hooks, len(rows), self.n_steps_
        if hooks.learning_rate is not None:
            self._schedule_step(run, step)
        # mode="clip": the indices are a permutation, always valid, and numpy
        # buffers ``out`` in the default mode="raise" (3x slower)
        if run.x_buf is not None:
            Xb = np.take(run.X, rows, axis=0, out=run.x_buf[:nb], mode="clip")
        else:
            Xb = run.X[rows]
        yb = np.take(run.y, rows, axis=0, out=run.y_buf[:nb], mode="clip")
        swb = None if run.sample_weight is None else run.sample_weight[rows]
        if hooks.batch_start is not None:
            hooks.batch_start(estimator=self, batch=batch, X=Xb, y=yb, step=step)
        with np.errstate(over="ignore", invalid="ignore"):
            loss = _network.loss_and_grad(run.arch, run.params, Xb, yb, swb, run.bufs,
                                          run.grads, _layers.BN_MOMENTUM, *run.callbacks)
        if hooks.before_step is not None:
            hooks.before_step(estimator=self, params=run.trainable, grads=run.grad_arrays,
                              step=step)
        with np.errstate(over="ignore", invalid="ignore"):
            self.optimizer_.update(run.flat_trainable, run.gflat)
        self.n_steps_ = step + 1
        if hooks.after_step is not None:
            hooks.after_step(estimator=self, params=run.trainable, step=step)
        if hooks.batch_end is not None:
            hooks.batch_end(estimator=self, batch=batch, loss=loss, step=step)
        return loss

    def _schedule_step(self, run: _Run, step: int) -> None:
        """Set the step size the schedule plugin asks for this step (if it asks)."""
        assert run.hooks.learning_rate is not None
        rate = run.hooks.learning_rate(
            estimator=self, global_epoch=self.n_epochs_, step=step,
            steps_per_epoch=run.steps_per_epoch, learning_rate_init=self.learning_rate_init)
        if rate is None:
            return
        value = float(rate) if isinstance(rate, Real) and not isinstance(rate, bool) else np.nan
        if not (np.isfinite(value) and value >= 0):
            raise PluginError(
                f"plugin {run.schedule!r} returned the learning rate {rate!r} for step "
                f"{step}; a learning rate must be a finite number >= 0."
            )
        self.optimizer_.set_learning_rate(value)

    def _end_epoch(self, run: _Run, epoch: int, loss: float, incremental: bool
                   ) -> str | None:
        """Record an epoch and decide: ``None`` goes on, ``"stop"`` or ``"diverged"`` end."""
        hooks = run.hooks
        self.n_iter_ += 1
        global_epoch = self.n_epochs_
        self.n_epochs_ += 1
        self.loss_ = loss
        self.t_ += run.X.shape[0]
        self.loss_curve_.append(self.loss_)
        record: dict[str, Any] = {"epoch": self.n_iter_, "loss": self.loss_}
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
        finite = bool(np.isfinite(self.loss_) and np.isfinite(run.flat).all())
        start = run.constant_loss if run.initial_loss is None else run.initial_loss
        ceiling = EXPLOSION_FACTOR * float(np.fmax(run.constant_loss, start))
        exploded = finite and self.loss_ > ceiling
        self._update_no_improvement_count(run.validation, record, run.flat,
                                          run.best_params)
        self.history_.append(record)
        if hooks.epoch_end is not None:
            hooks.epoch_end(estimator=self, epoch=epoch, record=record,
                            global_epoch=global_epoch)
        if not finite or exploded:
            record["diverged"] = self._on_diverged(run.flat, run.last_finite,
                                                   ceiling if exploded else None)
            return "diverged"
        if run.before_last is not None:
            np.copyto(run.before_last, run.last_finite)
        np.copyto(run.last_finite, run.flat)
        self.optimizer_.iteration_ends(self.t_)
        stop = None
        if hooks.should_stop is not None:
            stop = hooks.should_stop(estimator=self, epoch=epoch, record=record)
        if self._no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if self.early_stopping else "Training loss"
            msg = (f"{what} did not improve more than tol={self.tol:f} for "
                   f"{self.n_iter_no_change} consecutive epochs.")
            if self.optimizer_.trigger_stopping(msg, self.verbose):
                return "stop"
            self._no_improvement_count = 0
        if stop or incremental:
            return "stop"
        if epoch + 1 == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                "reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        return None

    def _last_step_diverged(self, X, flat: np.ndarray, before_last: np.ndarray) -> bool:
        """Judge a fit's final step, which no epoch's loss saw, by the outputs it gives.

        An epoch's loss is summed over its mini-batches before their updates,
        so a last step that blows the weights up without making them
        non-finite would go unnoticed; one inference pass over a batch of
        rows shows it.  Handled as divergence: the weights from before the
        last epoch are put back and ``on_divergence`` decides.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            outputs = self._forward_predict(X)
        if np.isfinite(outputs).all():
            return False
        np.copyto(flat, before_last)
        message = (f"training diverged in epoch {self.n_iter_}: its last update made the "
                   "network's outputs overflow")
        if self.on_divergence == "raise":
            raise TrainingDiverged(
                f"{message}. Lower learning_rate_init, scale the input features, or set "
                "on_divergence='stop' to keep the weights from before that epoch.")
        warnings.warn(f"{message}; kept the weights from before that epoch. Lower "
                      "learning_rate_init or scale the input features.", DivergenceWarning,
                      stacklevel=user_stacklevel())
        return True

    def _on_diverged(self, flat: np.ndarray, last_finite: np.ndarray,
                     ceiling: float | None = None) -> str:
        """Put back the last finite epoch's weights; raise or warn per ``on_divergence``.

        ``ceiling`` is given when the loss is finite but ran away (above it).
        Returns the warning's message, which the diverged epoch's record of
        ``history_`` keeps under ``"diverged"`` (ensembles read it there).
        """
        np.copyto(flat, last_finite)
        if not any(np.isfinite(v) for v in self.loss_curve_):
            raise TrainingDiverged(
                "Solver produced non-finite parameter weights. The input data may "
                "contain large values and need to be preprocessed. (The loss was "
                f"{self.loss_} from the first epoch on.)"
            )
        why = "" if ceiling is None else (
            f", above {ceiling:.4g} ({EXPLOSION_FACTOR:g} times the larger of the loss "
            "the epochs started from and the constant predictor's): it is running away")
        if ceiling is not None and len(self.loss_curve_) == 1:  # no epoch worth keeping
            raise TrainingDiverged(
                f"training diverged in its first epoch: the loss is {self.loss_}{why}. "
                "Lower learning_rate_init or scale the input features."
            )
        if self.on_divergence == "raise":
            raise TrainingDiverged(
                f"training diverged at epoch {self.n_iter_}: the loss is "
                f"{self.loss_}{why}. Lower learning_rate_init, scale the input features, "
                "or set on_divergence='stop' to keep the last finite weights."
            )
        message = (f"training diverged at epoch {self.n_iter_}: the loss is {self.loss_}"
                   f"{why}; stopped and kept the weights of the epoch before. Lower "
                   "learning_rate_init or scale the input features.")
        warnings.warn(message, DivergenceWarning, stacklevel=user_stacklevel())
        return message

    def _update_no_improvement_count(self, validation, record, flat, best_params) -> None:
        if validation is not None:  # monitored: score the held-out rows
            # _stopping_state set the validation attributes
            assert self.validation_scores_ is not None
            assert self.best_validation_score_ is not None
            X_val, y_val, sw_val = validation
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                out = self._forward_predict(X_val)
                val_loss = _layers.LOSSES[self._output_loss()](y_val, out, sw_val)
                score = self._score_output(out, y_val, sw_val)
            record["val_loss"] = float(val_loss)
            record["val_score"] = score
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            previous_best = self.best_validation_score_
            if score > previous_best:
                self.best_validation_score_ = score
            if self.early_stopping:  # the stopping criterion; best_loss_ is None here
                if score < previous_best + self.tol:
                    self._no_improvement_count += 1
                else:
                    self._no_improvement_count = 0
                if score > previous_best:
                    np.copyto(best_params, flat)
                return
        # without early stopping: the training loss, best_loss_ a float
        assert self.best_loss_ is not None
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if self.loss_curve_[-1] < self.best_loss_:
            self.best_loss_ = self.loss_curve_[-1]

    # ------------------------------------------------------------------
    # public API
    # ------------------------------------------------------------------
    def fit(self, X: MatrixLike, y: ArrayLike,
            sample_weight: ArrayLike | None = None) -> BaseMLP:
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classification) or real numbers (regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self) -> bool:
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    def _predict_output(self, X) -> np.ndarray:
        if not _plain_input(self, X):  # scikit-learn's checks and conversions
            check_is_fitted(self)
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                              dtype=self._dtypes())
        units = [X.shape[1], *(c.shape[1] for c in self.coefs_)]
        with np.errstate(over="ignore", invalid="ignore"), _threads.limit_for_work(
                units, X.shape[0], small=False):
            return self._forward_predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's, with plugins.

    Every parameter of :class:`sklearn.neural_network.MLPClassifier` has the
    same name, default and meaning here; see its documentation for the
    details of those shared.  Minimises the log-loss (softmax for multiclass,
    logistic for binary and multilabel targets).

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Number of units of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Hidden-layer activation.
    solver : {'lbfgs', 'sgd', 'adam', 'adagrad', 'rmsprop'}, default='adam'
        Optimizer.  ``'sgd'`` covers plain SGD (``momentum=0``), Momentum and
        Nesterov (``nesterovs_momentum``).  ``'adagrad'`` and ``'rmsprop'`` are
        the book's; RMSprop decays its squared-gradient average with
        ``beta_2``; both use ``epsilon``.
    alpha : float, default=0.0001
        Strength of the L2 penalty, scikit-learn's convention
        (``alpha / (2 n) * sum(W ** 2)`` per batch of size ``n``).  Served by
        an implicit :class:`~ensemblekit.WeightDecay` plugin; ignored (with a
        warning when not 0 or the default) if ``plugins`` holds an explicit
        ``WeightDecay``.
    batch_size : int or 'auto', default='auto'
        Mini-batch size; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Step-size schedule, used by ``solver='sgd'``.
    learning_rate_init : float, default=0.001
        Initial step size.
    power_t : float, default=0.5
        Exponent of the ``'invscaling'`` schedule.
    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (L-BFGS).
    shuffle : bool, default=True
        Shuffle samples every epoch.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the fit's own :class:`numpy.random.Generator` (initialisation,
        shuffling, validation split, plugins' randomness).  The global RNG is
        never used.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    verbose : bool, default=False
        Print the loss every epoch.
    warm_start : bool, default=False
        Start from the previous fit's weights.  The solver,
        ``early_stopping`` and ``monitor_validation`` may change between
        warm-started fits.
    momentum : float, default=0.9
        Momentum of ``solver='sgd'``.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its accuracy
        stops improving and restore the best weights.
    validation_fraction : float, default=0.1
        Share of the data held out when ``early_stopping`` or
        ``monitor_validation``; otherwise nothing is held out.
    monitor_validation : bool, default=False
        Hold out ``validation_fraction`` of the data and record its loss and
        score every epoch (``history_``, ``validation_scores_``) without
        stopping on them: training stops as without early stopping (the
        training loss, ``n_iter_no_change``) and keeps the last epoch's
        weights, as Keras' ``validation_split``.  Implied by
        ``early_stopping``.  Needs a stochastic solver; not with
        ``partial_fit``.
    beta_1 : float, default=0.9
        Adam's first-moment decay.
    beta_2 : float, default=0.999
        Adam's second-moment decay (RMSprop's decay too).
    epsilon : float, default=1e-8
        Numerical stabiliser of Adam, AdaGrad and RMSprop.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    max_fun : int, default=15000
        Maximum loss evaluations of L-BFGS.
    weight_init : {'glorot', 'he', 'xavier'} or float, default='glorot'
        Initial weights: scikit-learn's uniform Glorot; He's normal with std
        ``sqrt(2 / fan_in)``; the book's Xavier, std ``sqrt(1 / fan_in)``; or a
        float, the std of a normal (the book's ``weight_init_std``).
    batch_norm : bool, default=False
        Batch normalisation after every hidden affine layer (learnable scale
        and shift, running statistics at inference).
    plugins : list or None, default=None
        Training plugins: :class:`~ensemblekit.Plugin` instances,
        ``(name, plugin)`` pairs or registered names (``"dropout"``).  Resolved
        and cloned into ``plugins_`` by ``fit``; nested parameters are
        ``plugins__<name>__<param>``.
    on_divergence : {'stop', 'raise'}, default='stop'
        What a non-finite training loss does: ``'stop'`` keeps the weights of
        the last finite epoch and warns (:class:`DivergenceWarning`), or
        raises if no epoch was finite; ``'raise'`` raises
        :class:`TrainingDiverged`.
    dtype : {'float32', 'float64'} or None, default=None
        Compute dtype.  ``None`` keeps float32 input float32 and converts any
        other input to float64 (scikit-learn's rule); ``'float32'`` trains a
        float64 user's data in float32, about twice as fast for a change in
        the predicted probabilities of the order of 1e-6 (see the performance
        page).  Input at predict time is converted to the same dtype.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels.
    loss_ : float
        Loss at the end of training (penalties included).
    best_loss_ : float or None
        Minimum training loss (``None`` with early stopping).
    loss_curve_ : list of float
        Training loss per epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Validation accuracy per epoch (early stopping or
        ``monitor_validation``; NaN for epochs trained, warm-started, before
        validation was monitored).
    best_validation_score_ : float or None
        Best validation accuracy (early stopping or ``monitor_validation``).
    t_ : int
        Number of training samples seen.
    coefs_ : list of ndarray
        Weight matrices, ``coefs_[i]`` of shape (fan_in, fan_out).
    intercepts_ : list of ndarray
        Bias vectors.
    bn_gammas_, bn_betas_ : list of ndarray
        Batch-norm scales and shifts, one per hidden layer (empty without
        batch norm).
    bn_running_means_, bn_running_vars_ : list of ndarray
        Batch-norm running statistics used at inference.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when X had string column names.
    n_iter_ : int
        Epochs (or L-BFGS iterations) run.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Output activation (``'softmax'`` or ``'logistic'``).
    plugins_ : list of (str, Plugin)
        The plugins the last fit trained with, the implicit ``alpha``
        :class:`~ensemblekit.WeightDecay` included.
    history_ : list of dict
        One record per epoch: ``epoch``, ``loss`` and, with early stopping,
        ``val_loss`` and ``val_score``; plugins may add keys.
    optimizer_ : object
        The stochastic solver's optimizer (not set by L-BFGS), kept for
        ``partial_fit`` and warm starts.  ``optimizer_.learning_rate`` is the
        current step size and ``optimizer_.set_learning_rate(lr)`` changes it:
        the supported way for a plugin to schedule the learning rate.

    See Also
    --------
    MLPRegressor : The regressor.
    sklearn.neural_network.MLPClassifier : The estimator this one extends.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from ensemblekit import MLPClassifier, Dropout
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), plugins=[Dropout(rate=0.1)],
    ...                     max_iter=30, random_state=0).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.9
    True
    """

    def __init__(
        self,
        hidden_layer_sizes: int | tuple[int, ...] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: RandomStateLike = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        monitor_validation: bool = False,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        weight_init: str | float = "glorot",
        batch_norm: bool = False,
        plugins: Sequence[Plugin | str | tuple[str, Plugin]] | None = None,
        on_divergence: str = "stop",
        dtype: type | str | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.monitor_validation = monitor_validation
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.weight_init = weight_init
        self.batch_norm = batch_norm
        self.plugins = plugins
        self.on_divergence = on_divergence
        self.dtype = dtype

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             multi_output=True, dtype=self._dtypes(),
                             reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes "
                        f"as in the previous call to fit. Previously got "
                        f"{self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        y = self._label_binarizer.transform(y).astype(X.dtype)
        return X, y

    def _score_output(self, out, y_bin, sample_weight) -> float:
        if not np.isfinite(out).all():
            return np.nan
        pred = self._label_binarizer.inverse_transform(
            out.ravel() if self.n_outputs_ == 1 else out)
        true = self._label_binarizer.inverse_transform(
            y_bin.ravel() if self.n_outputs_ == 1 else y_bin)
        return float(accuracy_score(true, pred, sample_weight=sample_weight))

    def predict(self, X: MatrixLike) -> np.ndarray:
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Predicted labels (an indicator matrix for multilabel targets).
        """
        out = self._predict_output(X)
        if self._label_binarizer.y_type_ == "multiclass":
            # inverse_transform's own rule for multiclass, without its ~40 us of checks
            return self.classes_.take(out.argmax(axis=1), mode="clip")
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
                    classes: ArrayLike | None = None) -> MLPClassifier:
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Target labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array-like of shape (n_classes,), default=None
            Every class that can appear across calls; required on the first
            call, and must not change afterwards.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit."
                )
            binarizer = LabelBinarizer()
            binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
            try:  # a first call that fails leaves no classes_ behind
                self._label_binarizer, self.classes_ = binarizer, binarizer.classes_
                return self._fit(X, y, sample_weight=sample_weight, incremental=True)
            except BaseException:
                del self._label_binarizer, self.classes_
                raise
        if classes is not None and not np.array_equal(np.unique(classes),
                                                      np.unique(self.classes_)):
            raise ValueError(
                f"`classes={np.asarray(classes)}` is not the same as on the "
                f"first call to partial_fit, {self.classes_}."
            )
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_proba(self, X: MatrixLike) -> np.ndarray:
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            Class probabilities, in the order of ``classes_``.
        """
        out = self._predict_output(X)
        if self.n_outputs_ == 1:
            out = out.ravel()
            return np.vstack([1 - out, out]).T
        return out

    def predict_log_proba(self, X: MatrixLike) -> np.ndarray:
        """Log of the probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``.
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's, with plugins.

    Every parameter of :class:`sklearn.neural_network.MLPRegressor` has the
    same name, default and meaning here.  Minimises half the squared error or
    half the Poisson deviance, summed over outputs and averaged over samples.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        The loss; ``'poisson'`` uses an exponential output (log link) and
        needs non-negative targets.
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Number of units of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Hidden-layer activation.
    solver : {'lbfgs', 'sgd', 'adam', 'adagrad', 'rmsprop'}, default='adam'
        Optimizer; see :class:`MLPClassifier`.
    alpha : float, default=0.0001
        L2 strength, scikit-learn's convention; see :class:`MLPClassifier`.
    batch_size : int or 'auto', default='auto'
        Mini-batch size; ``'auto'`` is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Step-size schedule, used by ``solver='sgd'``.
    learning_rate_init : float, default=0.001
        Initial step size.
    power_t : float, default=0.5
        Exponent of the ``'invscaling'`` schedule.
    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (L-BFGS).
    shuffle : bool, default=True
        Shuffle samples every epoch.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the fit's own generator; the global RNG is never used.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    verbose : bool, default=False
        Print the loss every epoch.
    warm_start : bool, default=False
        Start from the previous fit's weights.  The solver,
        ``early_stopping`` and ``monitor_validation`` may change between
        warm-started fits.
    momentum : float, default=0.9
        Momentum of ``solver='sgd'``.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum.
    early_stopping : bool, default=False
        Stop when the validation R² stops improving; restore the best weights.
    validation_fraction : float, default=0.1
        Share of the data held out when ``early_stopping`` or
        ``monitor_validation``; otherwise nothing is held out.
    monitor_validation : bool, default=False
        Hold out ``validation_fraction`` of the data and record its loss and
        score every epoch (``history_``, ``validation_scores_``) without
        stopping on them: training stops as without early stopping (the
        training loss, ``n_iter_no_change``) and keeps the last epoch's
        weights, as Keras' ``validation_split``.  Implied by
        ``early_stopping``.  Needs a stochastic solver; not with
        ``partial_fit``.
    beta_1 : float, default=0.9
        Adam's first-moment decay.
    beta_2 : float, default=0.999
        Adam's second-moment decay (RMSprop's decay too).
    epsilon : float, default=1e-8
        Numerical stabiliser of Adam, AdaGrad and RMSprop.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    max_fun : int, default=15000
        Maximum loss evaluations of L-BFGS.
    weight_init : {'glorot', 'he', 'xavier'} or float, default='glorot'
        Initial weights; see :class:`MLPClassifier`.
    batch_norm : bool, default=False
        Batch normalisation after every hidden affine layer.
    plugins : list or None, default=None
        Training plugins; see :class:`MLPClassifier`.
    on_divergence : {'stop', 'raise'}, default='stop'
        What a non-finite training loss does; see :class:`MLPClassifier`.
    dtype : {'float32', 'float64'} or None, default=None
        Compute dtype; see :class:`MLPClassifier`.

    Attributes
    ----------
    loss_ : float
        Loss at the end of training (penalties included).
    best_loss_ : float or None
        Minimum training loss (``None`` with early stopping).
    loss_curve_ : list of float
        Training loss per epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Validation R² per epoch (early stopping or ``monitor_validation``;
        NaN for epochs trained, warm-started, before validation was
        monitored).
    best_validation_score_ : float or None
        Best validation R² (early stopping or ``monitor_validation``).
    t_ : int
        Number of training samples seen.
    coefs_ : list of ndarray
        Weight matrices.
    intercepts_ : list of ndarray
        Bias vectors.
    bn_gammas_, bn_betas_, bn_running_means_, bn_running_vars_ : list of ndarray
        Batch-norm parameters and statistics (empty without batch norm).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when X had string column names.
    n_iter_ : int
        Epochs (or L-BFGS iterations) run.
    n_layers_ : int
        Number of layers.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        ``'identity'``, or ``'exp'`` for the Poisson loss.
    plugins_ : list of (str, Plugin)
        The plugins the last fit trained with.
    history_ : list of dict
        One record per epoch; see :class:`MLPClassifier`.
    optimizer_ : object
        The stochastic solver's optimizer; see :class:`MLPClassifier`.

    See Also
    --------
    MLPClassifier : The classifier.
    sklearn.neural_network.MLPRegressor : The estimator this one extends.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit import MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=200,
    ...                    random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.5
    True
    """

    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: int | tuple[int, ...] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: RandomStateLike = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        monitor_validation: bool = False,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        weight_init: str | float = "glorot",
        batch_norm: bool = False,
        plugins: Sequence[Plugin | str | tuple[str, Plugin]] | None = None,
        on_divergence: str = "stop",
        dtype: type | str | None = None,
    ) -> None:
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.monitor_validation = monitor_validation
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.weight_init = weight_init
        self.batch_norm = batch_norm
        self.plugins = plugins
        self.on_divergence = on_divergence
        self.dtype = dtype

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             multi_output=True, y_numeric=True,
                             dtype=self._dtypes(), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (np.min(y) < 0 if y.size else False):
            raise ValueError(
                "loss='poisson' requires non-negative targets; y has values < 0."
            )
        return X, y

    def _score_output(self, out, y, sample_weight) -> float:
        if not np.isfinite(out).all():
            return np.nan
        return float(r2_score(y, out, sample_weight=sample_weight))

    def predict(self, X: MatrixLike) -> np.ndarray:
        """Predict using the multi-layer perceptron.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted values, in the dtype of the fitted weights.
        """
        out = self._predict_output(X)
        return out.ravel() if out.shape[1] == 1 else out

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: MatrixLike, y: ArrayLike,
                    sample_weight: ArrayLike | None = None) -> MLPRegressor:
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.loss == "poisson":
            tags.target_tags.positive_only = True
        return tags


# --------------------------------------------------------------------------
# what a model file holds of an MLP (ensemblekit.io reads these, never privates)
# --------------------------------------------------------------------------
#: The fitted state of an MLP that a model file stores.
FITTED_ATTRIBUTES = (
    "n_features_in_", "feature_names_in_", "n_iter_", "t_", "n_outputs_", "n_layers_",
    "out_activation_", "coefs_", "intercepts_", "bn_gammas_", "bn_betas_",
    "bn_running_means_", "bn_running_vars_", "history_", "loss_curve_", "loss_",
    "best_loss_", "validation_scores_", "best_validation_score_",
    "_no_improvement_count", "plugins_", "n_epochs_", "n_steps_", "optimizer_",
)
#: A classifier's: the above, its classes and the label binarizer they map through.
CLASSIFIER_FITTED_ATTRIBUTES = (*FITTED_ATTRIBUTES, "classes_", "_label_binarizer")
#: State a load rebuilds, never stored: the inference hooks (rebuilt from
#: ``plugins_`` by :func:`restore_fitted`).  The optimizer (``optimizer_``,
#: its moments included) is stored: ``partial_fit`` after ``load`` continues
#: exactly as it would have in the process that saved the model.
RUNTIME_ATTRIBUTES = ("_predict_hidden",)


def restore_fitted(est: BaseMLP) -> None:
    """Check an MLP whose attributes were set from a model file; rebuild its hooks.

    Parameters
    ----------
    est : MLPClassifier or MLPRegressor
        The estimator, its parameters and :data:`FITTED_ATTRIBUTES` set.

    Raises
    ------
    ValueError
        If the parameters are invalid, or the fitted arrays disagree with
        each other or with the parameters (shapes, dtypes, finiteness,
        classes, output activation).
    """
    est._validate_params()
    if not hasattr(est, "coefs_"):  # saved before fit: parameters only
        return
    units = [est.n_features_in_, *est._hidden_sizes(), est.n_outputs_]
    n_bn = len(units) - 2 if est.batch_norm else 0
    expected = {
        "coefs_": [(a, b) for a, b in zip(units[:-1], units[1:])],
        "intercepts_": [(b,) for b in units[1:]],
        **{attr: [(b,) for b in units[1:1 + n_bn]] for attr in (
            "bn_gammas_", "bn_betas_", "bn_running_means_", "bn_running_vars_")},
    }
    if est.n_layers_ != len(units):
        raise ValueError(f"n_layers_={est.n_layers_} but the parameters describe "
                         f"{len(units)} layers")
    dtype = np.asarray(est.coefs_[0]).dtype if est.coefs_ else None
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"weights must be float32 or float64, got {dtype}")
    for attr, shapes in expected.items():
        arrays = getattr(est, attr)
        got = [np.shape(a) for a in arrays]
        if got != shapes:
            raise ValueError(f"{attr} has shapes {got}, expected {shapes} for "
                             f"layer sizes {units}")
        for i, a in enumerate(arrays):
            if a.dtype != dtype:
                raise ValueError(f"{attr}[{i}] is {a.dtype}, the weights are {dtype}")
            if not np.isfinite(a).all():
                raise ValueError(f"{attr}[{i}] holds non-finite values")
    if est.out_activation_ not in _layers.ACTIVATIONS:
        raise ValueError(f"unknown output activation {est.out_activation_!r}")
    if isinstance(est, MLPClassifier):
        lb = est._label_binarizer
        if not np.array_equal(lb.classes_, est.classes_):
            raise ValueError("classes_ differs from the label binarizer's classes")
        n_classes = len(est.classes_)
        want = 1 if lb.y_type_ == "binary" else n_classes
        if est.n_outputs_ != want:
            raise ValueError(f"{n_classes} classes ({lb.y_type_}) need {want} outputs, "
                             f"the network has {est.n_outputs_}")
    optimizer = getattr(est, "optimizer_", None)
    if optimizer is not None:  # its moments must fit the flat buffer of the weights
        n_trainable = Layout(units, est.batch_norm).n_trainable
        for name in optimizer.STATE:
            value = getattr(optimizer, name, None)
            if isinstance(value, np.ndarray) and (
                    value.shape != (n_trainable,) or value.dtype != dtype
                    or not np.isfinite(value).all()):
                raise ValueError(f"optimizer_.{name} must be {n_trainable} finite {dtype} "
                                 f"values, one per trainable parameter; got {value.shape} "
                                 f"{value.dtype}")
    est._predict_hidden = Hooks(est.plugins_).direct("ensemblekit_predict_hidden")
