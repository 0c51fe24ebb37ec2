"""Snapshot ensembles (Huang et al., 2017): many members from one training run.

The run's learning rate follows a cosine from its initial value down to
almost zero, ``n_estimators`` times over (a *cycle* each); the weights at the
end of every cycle, a local minimum the next restart leaves, become one
member.  Two plugins do it: :class:`SnapshotCollector` is an ordinary training
plugin (``ensemblekit_epoch_start`` sets the step size,
``ensemblekit_epoch_end`` copies the weights); :class:`Snapshot` is the
ensemble strategy that adds it to the run and turns its snapshots into
members.
"""

from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np

from .._constraints import Interval
from ..hookspecs import hookimpl
from ..plugins import Plugin

__all__ = ["Snapshot", "SnapshotCollector"]

#: The fitted arrays a snapshot copies and a member is made of.
WEIGHT_ATTRIBUTES = ("coefs_", "intercepts_", "bn_gammas_", "bn_betas_",
                     "bn_running_means_", "bn_running_vars_")

_COLLECTOR = "snapshot_collector"


class SnapshotCollector(Plugin):
    """Cyclic cosine learning rate, and a copy of the weights after each cycle.

    In epoch ``e`` the step size is
    ``lr_max / 2 * (1 + cos(pi * (e mod cycle_epochs) / cycle_epochs))``.
    It is the ``ensemblekit_learning_rate`` hook's answer, the seam every
    learning-rate schedule uses (so a second schedule on the same network is
    an error naming both).  A cycle that ended with a non-finite weight is
    not kept.

    Parameters
    ----------
    cycle_epochs : int, default=10
        Epochs per cycle.
    lr_max : float or None, default=None
        Step size at the start of each cycle; ``None`` is the estimator's
        ``learning_rate_init``.

    Attributes
    ----------
    snapshots_ : list of dict
        One ``{attribute: list of ndarray}`` per completed cycle (the
        attributes of ``WEIGHT_ATTRIBUTES``).
    """

    name = _COLLECTOR

    _parameter_constraints: dict = {
        "cycle_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr_max": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, cycle_epochs: int = 10, lr_max: float | None = None) -> None:
        self.cycle_epochs = cycle_epochs
        self.lr_max = lr_max

    @hookimpl
    def ensemblekit_fit_start(self, estimator):
        """Start with no snapshot."""
        self.snapshots_: list[dict[str, list[np.ndarray]]] = []
        self._lr_max = float(self.lr_max or estimator.learning_rate_init)

    @hookimpl
    def ensemblekit_learning_rate(self, global_epoch):
        """This epoch's step size: the cosine of its place in the cycle."""
        phase = (global_epoch % self.cycle_epochs) / self.cycle_epochs
        return 0.5 * self._lr_max * (1.0 + np.cos(np.pi * phase))

    @hookimpl
    def ensemblekit_epoch_end(self, estimator, global_epoch):
        """At the end of a cycle, keep a copy of the (finite) weights."""
        if (global_epoch + 1) % self.cycle_epochs:
            return
        snapshot = {a: [w.copy() for w in getattr(estimator, a)] for a in WEIGHT_ATTRIBUTES}
        if all(np.isfinite(w).all() for ws in snapshot.values() for w in ws):
            self.snapshots_.append(snapshot)


class Snapshot(Plugin):
    """Ensemble strategy: the members are the snapshots of one run.

    The estimator must use a stochastic solver without early stopping.  The
    run lasts ``n_estimators`` cycles of ``max_iter // n_estimators`` epochs
    (``max_iter`` is rounded down to a whole number of cycles) and never
    stops early on a plateau (``n_iter_no_change`` is switched off: each
    restart raises the loss on purpose).

    Parameters
    ----------
    lr_max : float or None, default=None
        Step size at the start of each cycle; ``None`` is the estimator's
        ``learning_rate_init``.

    Examples
    --------
    >>> from ensemblekit import EnsembleClassifier, MLPClassifier
    >>> member = MLPClassifier(solver="sgd", learning_rate_init=0.1, max_iter=50)
    >>> ens = EnsembleClassifier(member, n_estimators=5, strategy="snapshot")
    """

    name = "snapshot"

    _parameter_constraints: dict = {
        "lr_max": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, lr_max: float | None = None) -> None:
        self.lr_max = lr_max

    @hookimpl
    def ensemblekit_prepare_runs(self, template, n_estimators):
        """Add the collector to the single run."""
        solver = getattr(template, "solver", None)
        if solver in (None, "lbfgs"):
            raise ValueError(
                "snapshot ensembles need an ensemblekit MLP with a stochastic solver "
                f"('sgd', 'adam', 'adagrad', 'rmsprop'); got solver={solver!r}."
            )
        if template.early_stopping:
            raise ValueError("snapshot ensembles train without early_stopping; set "
                             "estimator__early_stopping=False.")
        cycle = template.max_iter // n_estimators
        if cycle < 1:
            raise ValueError(
                f"snapshot ensembles need max_iter >= n_estimators (one epoch per cycle "
                f"at least); got max_iter={template.max_iter}, n_estimators={n_estimators}."
            )
        plugins = list(template.plugins or [])
        plugins.append((_COLLECTOR, SnapshotCollector(cycle_epochs=cycle, lr_max=self.lr_max)))
        template.set_params(plugins=plugins, max_iter=cycle * n_estimators,
                            n_iter_no_change=np.inf)
        return 1

    @hookimpl
    def ensemblekit_collect_members(self, runs):
        """One member per snapshot: the run with the snapshot's weights."""
        members = []
        for run in runs:
            collector = dict(run.plugins_)[_COLLECTOR]
            for snapshot in collector.snapshots_:
                member = copy.copy(run)
                for attribute, arrays in snapshot.items():
                    setattr(member, attribute, arrays)
                members.append(member)
            collector.snapshots_ = []  # the members own the arrays now
        return members


@hookimpl
def ensemblekit_register_plugins(register):
    """Register the strategy and its training plugin."""
    register("snapshot", Snapshot)
    register(_COLLECTOR, SnapshotCollector)
