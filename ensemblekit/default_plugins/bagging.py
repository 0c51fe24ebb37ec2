"""Bagging: every member trains on a bootstrap sample of the rows."""

from __future__ import annotations

from numbers import Real

from .._constraints import Interval
from ..hookspecs import hookimpl
from ..plugins import Plugin

__all__ = ["Bootstrap"]


class Bootstrap(Plugin):
    """Draw each training run's rows with replacement (Breiman's bagging).

    The rows are drawn in the driver, from a generator spawned from the
    ensemble's ``random_state`` for that run, so they do not depend on
    ``n_jobs`` or the backend.  A sample may miss a class: the ensemble aligns
    that member's probability columns to its ``classes_``.

    Parameters
    ----------
    max_samples : float, default=1.0
        Size of each sample as a share of the rows, in ``(0, 1]``.

    Examples
    --------
    >>> from ensemblekit import EnsembleClassifier
    >>> from ensemblekit.default_plugins.bagging import Bootstrap
    >>> ens = EnsembleClassifier(bootstrap=True)          # Bootstrap()
    >>> ens = EnsembleClassifier(bootstrap=Bootstrap(max_samples=0.8))
    """

    name = "bootstrap"

    _parameter_constraints: dict = {
        "max_samples": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(self, max_samples: float = 1.0) -> None:
        self.max_samples = max_samples

    @hookimpl
    def ensemblekit_sample_member(self, rng, n_samples):
        """Row indices drawn uniformly with replacement."""
        size = max(1, round(self.max_samples * n_samples))
        return rng.integers(0, n_samples, size=size)


@hookimpl
def ensemblekit_register_plugins(register):
    """Register :class:`Bootstrap` as ``"bootstrap"``."""
    register("bootstrap", Bootstrap)
