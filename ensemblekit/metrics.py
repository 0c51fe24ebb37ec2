"""Probabilistic scores: negative log-likelihood, Brier score, calibration error.

Accuracy says whether the top class is right; these say whether the
*probabilities* are.  The scorers are callables ``scorer(estimator, X, y)``
that scikit-learn takes wherever it takes ``scoring=`` (``GridSearchCV``,
``cross_val_score``, ``cross_validate`` with a dict of them).  Like
scikit-learn's ``neg_log_loss``, they return the *negated* loss, so that
greater is better.  Unlike scorers built with
:func:`sklearn.metrics.make_scorer`, they pass the estimator's ``classes_``
as the labels, so a test fold that misses a class is scored correctly.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from sklearn.model_selection import cross_val_score
>>> from ensemblekit import MLPClassifier
>>> from ensemblekit.metrics import ece_scorer
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=300, random_state=0)
>>> scores = cross_val_score(clf, X, y, cv=3, scoring=ece_scorer)
>>> bool((scores <= 0).all())
True
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ._sklearn import Interval, validate_params

__all__ = [
    "SCORERS",
    "ProbabilityScorer",
    "brier_scorer",
    "ece_scorer",
    "expected_calibration_error",
    "gaussian_nll",
    "multiclass_brier_score",
    "nll_scorer",
]


@validate_params(
    {
        "y_true": ["array-like"],
        "y_prob": ["array-like"],
        "labels": ["array-like", None],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def expected_calibration_error(y_true: ArrayLike, y_prob: ArrayLike, *,
                               labels: ArrayLike | None = None, n_bins: int = 15,
                               sample_weight: ArrayLike | None = None) -> float:
    """Expected calibration error of the top-class confidence (Guo et al., 2017).

    Rows are put into ``n_bins`` equal-width bins by their highest
    probability (the confidence); the ECE is the (weighted) mean over rows of
    ``|accuracy of the bin - mean confidence of the bin|``.  0 is perfectly
    calibrated.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes)
        Predicted probabilities, columns in the order of ``labels``.
    labels : array-like of shape (n_classes,), default=None
        The classes of the columns; ``None`` is the sorted unique values of
        ``y_true`` (which must then contain every class).
    n_bins : int, default=15
        Number of confidence bins on ``[0, 1]``.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    ece : float
        In ``[0, 1]``.

    Examples
    --------
    >>> from ensemblekit.metrics import expected_calibration_error
    >>> round(expected_calibration_error([0, 1], [[0.9, 0.1], [0.2, 0.8]]), 3)
    0.15
    """
    y_true = np.asarray(column_or_1d(y_true))
    y_prob = np.asarray(y_prob, dtype=np.float64)
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    if y_prob.ndim != 2 or y_prob.shape[1] != len(labels):
        raise ValueError(
            f"y_prob must have one column per class ({len(labels)}: {labels}); got shape "
            f"{y_prob.shape}."
        )
    unknown = np.setdiff1d(y_true, labels)
    if len(unknown):
        raise ValueError(f"y_true has labels {unknown} that are not in labels {labels}.")
    weights = (np.ones(len(y_true)) if sample_weight is None
               else np.asarray(sample_weight, dtype=np.float64))
    check_consistent_length(y_true, y_prob, weights)
    confidence = y_prob.max(axis=1)
    correct = labels[np.argmax(y_prob, axis=1)] == y_true
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    total = np.bincount(bins, weights, minlength=n_bins)
    gap = np.abs(np.bincount(bins, weights * correct, minlength=n_bins)
                 - np.bincount(bins, weights * confidence, minlength=n_bins))
    return float(gap.sum() / total.sum())


def multiclass_brier_score(y_true: ArrayLike, y_prob: ArrayLike, *,
                           labels: ArrayLike | None = None,
                           sample_weight: ArrayLike | None = None) -> float:
    """Brier's original score: squared error summed over classes, mean over rows.

    scikit-learn's :func:`~sklearn.metrics.brier_score_loss` with
    ``scale_by_half=False``, so binary and multiclass problems are on the
    same scale (``[0, 2]``).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes)
        Predicted probabilities, columns in the order of ``labels``.
    labels : array-like of shape (n_classes,), default=None
        The classes of the columns; ``None``: the unique values of ``y_true``.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    score : float
        0 is perfect.

    Examples
    --------
    >>> from ensemblekit.metrics import multiclass_brier_score
    >>> multiclass_brier_score([0, 1], [[1.0, 0.0], [0.5, 0.5]])
    0.25
    """
    return brier_score_loss(y_true, y_prob, labels=labels, sample_weight=sample_weight,
                            scale_by_half=False)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_mean": ["array-like"],
        "y_std": ["array-like"],
        "min_std": [Interval(Real, 0, None, closed="neither"), None],
    },
    prefer_skip_nested_validation=True,
)
def gaussian_nll(y_true: ArrayLike, y_mean: ArrayLike, y_std: ArrayLike, *,
                 min_std: float | None = None) -> float:
    """Mean negative log-likelihood of ``y_true`` under ``N(y_mean, y_std**2)``.

    The regression counterpart of the log-loss, for predictions that come
    with a standard deviation (``EnsembleRegressor.predict(X,
    return_std=True)``): it rewards being right *and* knowing how right.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed values.
    y_mean : array-like of shape (n_samples,)
        Predicted means.
    y_std : array-like of shape (n_samples,)
        Predicted standard deviations (non-negative).
    min_std : float, default=None
        Floor of ``y_std``, so members that agree exactly do not give an
        infinite loss; ``None`` is ``1e-3`` times the standard deviation of
        ``y_true`` (``1e-12`` if that is zero).

    Returns
    -------
    nll : float
        ``mean(0.5 * log(2 pi std^2) + (y - mean)^2 / (2 std^2))``; lower is
        better.

    Raises
    ------
    ValueError
        For mismatched lengths, or a negative or non-finite ``y_std``.

    Examples
    --------
    >>> from ensemblekit.metrics import gaussian_nll
    >>> round(gaussian_nll([0.0], [0.0], [1.0]), 4)
    0.9189
    """
    y_true = np.asarray(column_or_1d(y_true), dtype=float)
    y_mean = np.asarray(column_or_1d(y_mean), dtype=float)
    y_std = np.asarray(column_or_1d(y_std), dtype=float)
    check_consistent_length(y_true, y_mean, y_std)
    if not np.all(np.isfinite(y_std)) or np.any(y_std < 0):
        raise ValueError("y_std must hold finite, non-negative standard deviations.")
    if min_std is None:
        min_std = 1e-3 * float(np.std(y_true)) or 1e-12
    var = np.maximum(y_std, min_std) ** 2
    return float(np.mean(0.5 * np.log(2 * np.pi * var) + (y_true - y_mean) ** 2 / (2 * var)))


class ProbabilityScorer:
    """A scorer ``(estimator, X, y) -> -loss`` on ``predict_proba``.

    Parameters
    ----------
    loss : callable
        ``loss(y_true, y_prob, labels=..., sample_weight=...)``.
    name : str
        Shown in the repr.

    Examples
    --------
    >>> from ensemblekit.metrics import ProbabilityScorer, expected_calibration_error
    >>> ProbabilityScorer(expected_calibration_error, "neg_ece")
    ProbabilityScorer('neg_ece')
    """

    def __init__(self, loss: Callable[..., float], name: str) -> None:
        self.loss = loss
        self.name = name

    def __call__(self, estimator, X, y, sample_weight=None) -> float:
        """Score ``estimator`` on ``(X, y)``: the negated loss.

        Parameters
        ----------
        estimator : classifier
            Fitted, with ``predict_proba`` and ``classes_``.
        X : array-like of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            ``-loss``: greater is better.
        """
        if not hasattr(estimator, "predict_proba"):
            raise ValueError(f"the {self.name} scorer needs a classifier with "
                             f"predict_proba; got {type(estimator).__name__}.")
        proba = estimator.predict_proba(X)
        return -float(self.loss(y, proba, labels=estimator.classes_,
                                sample_weight=sample_weight))

    def __repr__(self) -> str:
        return f"ProbabilityScorer({self.name!r})"


#: Negative log-likelihood (:func:`sklearn.metrics.log_loss`), negated.
nll_scorer = ProbabilityScorer(log_loss, "neg_nll")
#: :func:`multiclass_brier_score`, negated.
brier_scorer = ProbabilityScorer(multiclass_brier_score, "neg_brier")
#: :func:`expected_calibration_error` with 15 bins, negated.
ece_scorer = ProbabilityScorer(expected_calibration_error, "neg_ece")

#: The scorers by name, for ``scoring=SCORERS`` in ``cross_validate``.
SCORERS = {s.name: s for s in (nll_scorer, brier_scorer, ece_scorer)}
