"""Combiners: how an ensemble merges its members' outputs.

Each is an ordinary plugin implementing :func:`ensemblekit_combine` (and
:func:`ensemblekit_check_ensemble` to refuse an ensemble it cannot serve),
registered by name like any third-party plugin.  They run in the driver, on
the members' outputs in member order, with a fixed summation order: the
result does not depend on ``n_jobs`` or the joblib backend.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..hookspecs import hookimpl
from ..plugins import Plugin

__all__ = ["GeometricMean", "Mean", "Vote", "WeightedMean"]


def _classification_only(name: str, estimator) -> None:
    # imported here: plugin discovery imports this module, and listing the
    # plugins must not import scikit-learn
    from sklearn.base import is_classifier

    if not is_classifier(estimator):
        raise ValueError(
            f"the {name!r} combiner merges class probabilities; "
            f"{type(estimator).__name__} is a regressor (use 'mean' or 'weighted_mean')."
        )


class Mean(Plugin):
    """Average the members' outputs: the seed's ensemble averaging.

    Probabilities for classifiers (soft voting), predictions for regressors.

    Examples
    --------
    >>> from ensemblekit import EnsembleClassifier
    >>> EnsembleClassifier(combiner="mean").combiner
    'mean'
    """

    name = "mean"

    @hookimpl
    def ensemblekit_combine(self, outputs):
        """Mean over members."""
        return outputs.mean(axis=0)


class WeightedMean(Plugin):
    """Weighted average of the members' outputs.

    Parameters
    ----------
    weights : array-like of shape (n_members,)
        Non-negative, not all zero, one per member in member order; they are
        normalised to sum to 1.  Required: ``combiner="weighted_mean"`` by
        name has no weights, use ``WeightedMean(weights=[...])``.

    Examples
    --------
    >>> from ensemblekit import EnsembleRegressor
    >>> from ensemblekit.default_plugins.combiners import WeightedMean
    >>> ens = EnsembleRegressor(n_estimators=2, combiner=WeightedMean(weights=[3, 1]))
    """

    name = "weighted_mean"

    def __init__(self, weights: ArrayLike | None = None) -> None:
        self.weights = weights

    def _normalised(self, n_members: int) -> np.ndarray:
        if self.weights is None:
            raise ValueError(
                "the 'weighted_mean' combiner needs weights: use "
                "combiner=WeightedMean(weights=[...]) with one weight per member "
                "(on the command line: --combiner weighted_mean:weights=[...])."
            )
        w = np.asarray(self.weights, dtype=np.float64)
        if w.ndim != 1 or len(w) != n_members:
            raise ValueError(
                f"WeightedMean has {w.size} weight(s) for {n_members} member(s); give "
                "exactly one weight per member."
            )
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() == 0:
            raise ValueError(
                f"WeightedMean weights must be finite, non-negative and not all zero; got {w}."
            )
        w = w / w.max()  # relative weights: huge ones (1e308 each) must not overflow the sum
        return w / w.sum()

    @hookimpl
    def ensemblekit_check_ensemble(self, n_members):
        """Refuse weights whose number is not the number of members."""
        self._normalised(n_members)

    @hookimpl
    def ensemblekit_combine(self, outputs):
        """Weighted sum over members, in member order."""
        w = self._normalised(outputs.shape[0]).astype(outputs.dtype)
        combined = outputs[0] * w[0]
        for weight, output in zip(w[1:], outputs[1:]):
            combined += weight * output
        return combined


class Vote(Plugin):
    """Majority vote: each member votes for its most probable class.

    The combined "probabilities" are the shares of votes, so ``predict`` is
    the majority class (ties go to the first class in ``classes_``).
    Classification only.

    Examples
    --------
    >>> from ensemblekit import EnsembleClassifier
    >>> ens = EnsembleClassifier(combiner="vote")
    """

    name = "vote"

    @hookimpl
    def ensemblekit_check_ensemble(self, estimator):
        """Refuse a regression ensemble."""
        _classification_only(self.name, estimator)

    @hookimpl
    def ensemblekit_combine(self, outputs):
        """Share of members voting for each class."""
        n_members, n_samples, _ = outputs.shape
        votes = np.zeros_like(outputs[0])
        rows = np.arange(n_samples)
        for winners in np.argmax(outputs, axis=2):
            votes[rows, winners] += 1
        votes /= n_members
        return votes


class GeometricMean(Plugin):
    """Normalised geometric mean of the members' probabilities.

    Equivalent to averaging log-probabilities (logit averaging for softmax
    members): a class that one member rules out is strongly down-weighted.
    Classification only.

    Examples
    --------
    >>> from ensemblekit import EnsembleClassifier
    >>> ens = EnsembleClassifier(combiner="geometric_mean")
    """

    name = "geometric_mean"

    @hookimpl
    def ensemblekit_check_ensemble(self, estimator):
        """Refuse a regression ensemble."""
        _classification_only(self.name, estimator)

    @hookimpl
    def ensemblekit_combine(self, outputs):
        """exp(mean log p), renormalised per row."""
        tiny = np.finfo(outputs.dtype).eps
        combined = np.exp(np.log(np.clip(outputs, tiny, 1)).mean(axis=0))
        combined /= combined.sum(axis=1, keepdims=True)
        return combined


@hookimpl
def ensemblekit_register_plugins(register):
    """Register the combiners by name."""
    for cls in (Mean, WeightedMean, Vote, GeometricMean):
        register(cls.name, cls)
