"""Coarse-to-fine random search: sample, keep the best, narrow the ranges, repeat.

The hyper-parameter search of *Deep Learning from Scratch* (ch. 6.5): sample
values at random (on a log scale for rates and strengths), score them on
validation data, narrow each range around the best values and sample again.
scikit-learn's searches sample fixed distributions (its halving searches prune
candidates, not ranges); :class:`CoarseToFineSearchCV` narrows the ranges, and
is otherwise a regular :class:`~sklearn.model_selection.GridSearchCV`-style
search estimator over any scikit-learn estimator.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

from ._random import make_rng
from ._sklearn import BaseSearchCV, Interval

__all__ = ["CoarseToFineSearchCV"]

_KINDS = ("linear", "log")


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_range(name: str, spec: Any) -> tuple | list:
    """Validate one entry of ``param_ranges`` and return it normalised.

    A continuous range is returned as ``(low, high, kind)`` or
    ``(low, high, kind, "int")`` with float bounds; a categorical list as a
    list.
    """
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"param_ranges[{name!r}] is an empty list of choices; give "
                             "at least one value.")
        return list(spec)
    if not isinstance(spec, tuple):
        raise ValueError(
            f"param_ranges[{name!r}] must be a tuple (low, high, 'log'|'linear'[, 'int']) "
            f"or a list of choices, got {type(spec).__name__} {spec!r}."
        )
    if len(spec) not in (3, 4):
        raise ValueError(
            f"param_ranges[{name!r}] = {spec!r} must have 3 or 4 elements: "
            "(low, high, 'log'|'linear') or (low, high, 'log'|'linear', 'int')."
        )
    low, high, kind = spec[:3]
    if kind not in _KINDS:
        raise ValueError(f"param_ranges[{name!r}] has unknown kind {kind!r}; expected "
                         f"one of {list(_KINDS)}.")
    if len(spec) == 4 and spec[3] != "int":
        raise ValueError(f"param_ranges[{name!r}]: the optional 4th element must be "
                         f"'int' (integer values), got {spec[3]!r}.")
    if not (_is_real(low) and _is_real(high) and math.isfinite(low)
            and math.isfinite(high)):
        raise ValueError(f"param_ranges[{name!r}] bounds must be finite numbers, got "
                         f"low={low!r}, high={high!r}.")
    if low >= high:
        raise ValueError(f"param_ranges[{name!r}] is empty or inverted: low={low!r} must "
                         f"be smaller than high={high!r}.")
    if kind == "log" and low <= 0:
        raise ValueError(f"param_ranges[{name!r}] is on a log scale, so its bounds must be "
                         f"positive; got low={low!r}.")
    if len(spec) == 4 and math.floor(high) < math.ceil(low):
        raise ValueError(f"param_ranges[{name!r}] = {spec!r} holds no integer.")
    return (float(low), float(high), *spec[2:])


class _Axis:
    """One continuous range in the space it is sampled in (log10 or linear)."""

    def __init__(self, spec: tuple) -> None:
        self.kind = spec[2]
        self.integer = len(spec) == 4
        self.lo, self.hi = self.forward(spec[0]), self.forward(spec[1])

    def forward(self, value: float) -> float:
        return math.log10(value) if self.kind == "log" else float(value)

    def backward(self, value: float) -> float:
        return 10.0 ** value if self.kind == "log" else float(value)

    def spec(self, lo: float, hi: float) -> tuple:
        """The range ``[lo, hi]`` (sampling space) in ``param_ranges`` format."""
        out = (self.backward(lo), self.backward(hi), self.kind)
        return (*out, "int") if self.integer else out

    def sample(self, rng: np.random.Generator, lo: float, hi: float) -> float | int:
        if not self.integer:
            return self.backward(rng.uniform(lo, hi))
        # integers: uniform over [ceil(low), floor(high)] on a linear scale,
        # each integer v covering [v, v + 1) of the (log-)sampled line
        # (10 ** log10(v) can miss an integer v by an ulp: round those to it)
        low = math.ceil(self.backward(lo) - 1e-9)
        high = math.floor(self.backward(hi) + 1e-9)
        value = math.floor(self.backward(rng.uniform(self.forward(low),
                                                     self.forward(high + 1))))
        return int(min(max(value, low), high))


class CoarseToFineSearchCV(BaseSearchCV):
    """Random search that narrows its ranges around the best candidates, round by round.

    Each of ``n_rounds`` rounds samples ``n_candidates`` parameter settings
    from the current ranges, cross-validates them, then shrinks every
    continuous range to the span of the ``top_k`` best settings found so far,
    widened on both sides by ``margin`` times the current width and clipped to
    the original range (in log10 space for log ranges).  Categorical choices
    are narrowed to the values among the ``top_k`` best.  The best setting over
    all rounds is refit, as in :class:`~sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    estimator : estimator object
        Any scikit-learn estimator; nested parameters such as
        ``plugins__weight_decay__alpha`` work as in ``GridSearchCV``.
    param_ranges : dict
        Parameter name to either a continuous range ``(low, high, kind)`` with
        ``kind`` ``"log"`` (log-uniform; bounds must be positive) or
        ``"linear"`` (uniform), optionally with a 4th element ``"int"`` to
        sample integers, or a non-empty **list** of categorical choices.
    n_rounds : int, default=3
        Number of sample-and-narrow rounds.
    n_candidates : int, default=10
        Settings sampled per round; the budget is ``n_rounds * n_candidates``
        settings, each fitted once per cross-validation split.
    top_k : int, default=3
        Number of best settings (over all rounds so far) whose span becomes
        the next round's range.  Must be smaller than ``n_candidates`` when
        ``n_rounds > 1``, otherwise nothing is left out and nothing narrows.
    margin : float, default=0.1
        Widening of the top-k span on each side, as a fraction of the current
        range's width (so a range shrinks by at most a factor ``2 * margin``
        per round when all the best settings agree).
    scoring, cv, refit, n_jobs, verbose, pre_dispatch, error_score, return_train_score
        As in :class:`~sklearn.model_selection.RandomizedSearchCV`.  With
        several metrics, ``refit`` must name the metric that ranks the
        candidates.  Use a ``cv`` that yields the same splits on every call
        (the default, or a splitter with an integer ``random_state``) so all
        rounds are scored on the same folds.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the :class:`numpy.random.Generator` that samples candidates.
        The global RNG is never used.

    Attributes
    ----------
    cv_results_ : dict of numpy arrays
        As in ``RandomizedSearchCV``, plus a ``round`` column: the round
        (from 0) each candidate was sampled in.
    ranges_ : list of dict
        The ranges each round sampled from, one dict per round, in
        ``param_ranges`` format (``ranges_[0]`` is ``param_ranges``).
    final_ranges_ : dict
        The ranges after the last round: where a further round would sample.
    best_estimator_, best_score_, best_params_, best_index_ : object
        As in ``RandomizedSearchCV``.
    scorer_, n_splits_, refit_time_, multimetric_ : object
        As in ``RandomizedSearchCV``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ensemblekit import CoarseToFineSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = CoarseToFineSearchCV(
    ...     LogisticRegression(max_iter=500), {"C": (1e-3, 1e3, "log")},
    ...     n_rounds=2, n_candidates=5, top_k=2, random_state=0).fit(X, y)
    >>> len(search.cv_results_["round"]), len(search.ranges_)
    (10, 2)
    """

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_ranges": [dict],
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "margin": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
    }

    def __init__(
        self,
        estimator: Any,
        param_ranges: dict[str, tuple | list],
        *,
        n_rounds: int = 3,
        n_candidates: int = 10,
        top_k: int = 3,
        margin: float = 0.1,
        scoring: Any = None,
        cv: Any = None,
        refit: bool | str | Any = True,
        n_jobs: int | None = None,
        random_state: Any = None,
        verbose: int = 0,
        pre_dispatch: int | str = "2*n_jobs",
        error_score: float | str = np.nan,
        return_train_score: bool = False,
    ) -> None:
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.param_ranges = param_ranges
        self.n_rounds = n_rounds
        self.n_candidates = n_candidates
        self.top_k = top_k
        self.margin = margin
        self.random_state = random_state

    def _checked_ranges(self) -> dict[str, tuple | list]:
        """Validate the search settings and ``param_ranges`` against the estimator."""
        if self.top_k > self.n_candidates:
            raise ValueError(f"top_k={self.top_k} is larger than n_candidates="
                             f"{self.n_candidates}: a round cannot keep more candidates "
                             "than it samples.")
        if self.n_rounds > 1 and self.top_k == self.n_candidates:
            raise ValueError(
                f"the budget is too small to narrow: with top_k == n_candidates == "
                f"{self.n_candidates} every candidate is kept, so the ranges cannot "
                "shrink. Sample more candidates per round or lower top_k."
            )
        if not self.param_ranges:
            raise ValueError("param_ranges is empty; give at least one parameter to search.")
        valid = self.estimator.get_params(deep=True)
        unknown = [name for name in self.param_ranges if name not in valid]
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown} for {type(self.estimator).__name__}; "
                f"valid parameters are {sorted(valid)}."
            )
        return {name: _check_range(name, spec) for name, spec in self.param_ranges.items()}

    def _rank_key(self, results: dict) -> str:
        if isinstance(self.refit, str):
            return f"mean_test_{self.refit}"
        if "mean_test_score" in results:
            return "mean_test_score"
        raise ValueError(
            "with several scoring metrics, refit must name the metric that ranks the "
            f"candidates (one of {sorted(k[10:] for k in results if k.startswith('mean_test_'))})."
        )

    def _run_search(self, evaluate_candidates) -> None:
        """Sample, evaluate and narrow for ``n_rounds`` rounds.

        Parameters
        ----------
        evaluate_candidates : callable
            :class:`~sklearn.model_selection._search.BaseSearchCV`'s callback:
            evaluates a list of parameter dicts and returns every result so far.
        """
        ranges = self._checked_ranges()
        rng = make_rng(self.random_state)
        axes = {n: _Axis(s) for n, s in ranges.items() if isinstance(s, tuple)}
        bounds = {n: (a.lo, a.hi) for n, a in axes.items()}
        choices = {n: list(range(len(s))) for n, s in ranges.items() if isinstance(s, list)}
        picked: dict[str, list[int]] = {n: [] for n in choices}  # index per candidate
        history: list[dict[str, tuple | list]] = []
        for round_ in range(self.n_rounds):
            current = {n: axes[n].spec(*bounds[n]) if n in axes
                       else [ranges[n][i] for i in choices[n]] for n in ranges}
            history.append(current)
            candidates = []
            for _ in range(self.n_candidates):
                params: dict[str, Any] = {}
                for name in ranges:
                    if name in axes:
                        params[name] = axes[name].sample(rng, *bounds[name])
                    else:
                        index = choices[name][int(rng.integers(len(choices[name])))]
                        picked[name].append(index)
                        params[name] = ranges[name][index]
                candidates.append(params)
            results = evaluate_candidates(
                candidates, more_results={"round": [round_] * self.n_candidates})
            scores = np.nan_to_num(np.asarray(results[self._rank_key(results)], dtype=float),
                                   nan=-np.inf)
            best = np.argsort(-scores, kind="stable")[: self.top_k]
            for name, axis in axes.items():
                lo, hi = bounds[name]
                top = [axis.forward(results["params"][i][name]) for i in best]
                widen = self.margin * (hi - lo)
                bounds[name] = (max(axis.lo, min(top) - widen), min(axis.hi, max(top) + widen))
            for name in choices:
                kept = {picked[name][i] for i in best}
                choices[name] = [i for i in choices[name] if i in kept]
            if self.verbose > 0:
                print(f"[CoarseToFineSearchCV] round {round_ + 1}/{self.n_rounds}: best "
                      f"score so far {scores[best[0]]:.4f}")
        self.ranges_ = history
        self.final_ranges_ = {n: axes[n].spec(*bounds[n]) if n in axes
                              else [ranges[n][i] for i in choices[n]] for n in ranges}

    def plot_rounds(self, params: list[str] | None = None, ax: Any = None,
                    labels: dict[str, str] | None = None) -> Any:
        """Plot the sampled values of each round, coloured by their score.

        One panel per continuous parameter: the round on the x axis (points
        spread a little so they do not overlap), the sampled value on the y
        axis (log scale for log ranges), each round's range as a grey band and
        the mean validation score as the colour -- the narrowing made visible.

        Parameters
        ----------
        params : list of str, default=None
            Continuous parameters to draw; default: all of them.
        ax : matplotlib Axes or array of Axes, default=None
            One Axes per parameter; default: a new figure with a row of panels.
        labels : dict, default=None
            Axis label of a parameter (``{"learning_rate_init": "learning
            rate"}``); default: its name.  Rounds are numbered from 1 on the x
            axis (``cv_results_["round"]`` counts from 0).

        Returns
        -------
        axes : numpy.ndarray of matplotlib Axes
            The panels drawn on.

        Raises
        ------
        ImportError
            If matplotlib is not installed.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "ranges_")
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("plot_rounds needs matplotlib: pip install "
                              "'ensemblekit[plot]' (or pip install matplotlib).") from exc
        continuous = [n for n, s in self.ranges_[0].items() if isinstance(s, tuple)]
        params = continuous if params is None else list(params)
        bad = [p for p in params if p not in continuous]
        if bad or not params:
            raise ValueError(f"cannot plot {bad or params}: plot_rounds draws continuous "
                             f"parameters, which are {continuous}.")
        if ax is None:
            _, ax = plt.subplots(1, len(params), figsize=(4 * len(params), 3.5),
                                 squeeze=False, layout="constrained")
        axes = np.ravel(np.asarray(ax, dtype=object))
        if len(axes) != len(params):
            raise ValueError(f"got {len(axes)} Axes for {len(params)} parameters {params}.")
        key = self._rank_key(self.cv_results_)
        draw_rounds(axes, params, self.cv_results_["round"], self.cv_results_["params"],
                    self.cv_results_[key], self.ranges_, self.n_candidates,
                    labels=labels, score_label=key.replace("mean_test_", "mean "))
        return axes


def draw_rounds(axes: Any, params: list[str], rounds: Any, settings: list[dict[str, Any]],
                scores: Any, ranges: list[dict[str, Any]], n_candidates: int, *,
                labels: dict[str, str] | None = None,
                score_label: str = "mean validation score") -> None:
    """Draw a search's rounds: one panel per parameter, rounds numbered from 1.

    The drawing of :meth:`CoarseToFineSearchCV.plot_rounds`, from plain data, so
    that :mod:`ensemblekit.reproduce` can redraw a search from its stored trials.

    Parameters
    ----------
    axes : sequence of matplotlib Axes
        One per parameter.
    params : list of str
        The continuous parameters to draw.
    rounds : array-like of int
        The round (from 0) of each setting.
    settings : list of dict
        Each setting's parameter values.
    scores : array-like of float
        Each setting's score (the colour; NaN for a failed fit).
    ranges : list of dict
        Each round's ranges, in ``param_ranges`` format (lists work as tuples).
    n_candidates : int
        Settings per round (spreads a round's points a little).
    labels : dict, default=None
        Axis label of a parameter; default: its name.
    score_label : str, default="mean validation score"
        The colour bar's label.
    """
    labels = labels or {}
    scores = np.asarray(scores, dtype=float)
    rounds = np.asarray(rounds)
    jitter = np.linspace(-0.25, 0.25, n_candidates)[np.arange(len(rounds)) % n_candidates]
    finite = scores[np.isfinite(scores)]
    vmin, vmax = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    for axis, name in zip(axes, params):
        values = np.asarray([p[name] for p in settings], dtype=float)
        for r, bounds in enumerate(ranges):
            axis.fill_between([r - 0.35, r + 0.35], *bounds[name][:2], color="0.9", zorder=0)
        points = axis.scatter(rounds + jitter, values, c=scores, cmap="viridis",
                              vmin=vmin, vmax=vmax, s=18, zorder=2)
        if ranges[0][name][2] == "log":
            axis.set_yscale("log")
        axis.set_xticks(range(len(ranges)), [str(r + 1) for r in range(len(ranges))])
        axis.set_xlabel("round")
        axis.set_ylabel(labels.get(name, name))
        axis.figure.colorbar(points, ax=axis, label=score_label)
