"""Optuna pruning: a plugin that reports every epoch to a trial and prunes it.

``pip install "ensemblekit[optuna]"``.  This module imports Optuna only when a
trial is pruned, so it imports (and documents) without it.

Two things make pruning work where an ordinary plugin holding a trial would not:

* **The trial survives cloning.**  A network clones its plugins before every fit
  (and scikit-learn's searches clone the whole estimator); a plain plugin's
  ``trial`` parameter would be deep-copied, and the reports would go to the copy.
  :class:`OptunaPruningCallback` implements ``__sklearn_clone__`` (honoured by
  :func:`sklearn.base.clone` since scikit-learn 1.3), so every clone holds the
  *same* trial object, by reference.
* **``optuna.TrialPruned`` reaches Optuna unchanged.**  A hook's exception is
  normally wrapped in :class:`~ensemblekit.exceptions.PluginError`, which Optuna
  would record as a failed trial; ``TrialPruned`` is one of the exceptions that
  pass through (:data:`ensemblekit.plugins.PASS_THROUGH_EXCEPTIONS`), so the
  objective raises it and Optuna records the trial as pruned.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ensemblekit import Plugin, hookimpl

if TYPE_CHECKING:
    import optuna

__all__ = ["OptunaPruningCallback"]


class OptunaPruningCallback(Plugin):
    """Report an epoch's score to an Optuna trial after every epoch; prune the trial.

    After each epoch of a stochastic solver the value of ``monitor`` in the
    epoch's record (``history_``) is reported with
    ``trial.report(value, step=global_epoch)``; when ``trial.should_prune()``
    says so, ``optuna.TrialPruned`` is raised and reaches the objective as it
    is.  The pruned fit leaves the estimator as it was before the call, like
    any failed fit.  Clones of the plugin (the network clones its plugins,
    :class:`~sklearn.model_selection.GridSearchCV` clones estimators) share the
    trial.

    Parameters
    ----------
    trial : optuna.trial.Trial
        The trial to report to (anything with ``report(value, step)`` and
        ``should_prune()``).  Kept by reference, never copied.
    monitor : str, default="val_score"
        The key of the epoch record to report: ``"val_score"`` (accuracy or R²
        on the validation split; the study's direction is ``"maximize"``) and
        ``"val_loss"`` need ``early_stopping=True`` or
        ``monitor_validation=True``; ``"loss"`` (the training
        loss; direction ``"minimize"``) is always there.

    See Also
    --------
    ensemblekit.exceptions.TrainingAborted : Other exceptions that stop a fit
        for its caller.

    Notes
    -----
    With ``solver="lbfgs"`` there are no epochs to report: the plugin warns and
    does nothing.  The trial object must be the one the objective received: in a
    search with ``n_jobs > 1`` processes the estimator (and the trial with it)
    is pickled, so report from ``n_jobs=1`` or threads.  An ensemble's members
    train in workers whose errors come back as data, so prune single networks,
    not ensemble members.

    Examples
    --------
    >>> import optuna  # doctest: +SKIP
    >>> from ensemblekit import MLPClassifier
    >>> from ensemblekit.integration.optuna import OptunaPruningCallback
    >>> def objective(trial):  # doctest: +SKIP
    ...     clf = MLPClassifier(
    ...         learning_rate_init=trial.suggest_float("lr", 1e-4, 1e-1, log=True),
    ...         early_stopping=True, plugins=[OptunaPruningCallback(trial)])
    ...     return clf.fit(X, y).best_validation_score_
    """

    name = "optuna_pruning"

    def __init__(self, trial: optuna.trial.Trial | None = None,
                 monitor: str = "val_score") -> None:
        self.trial = trial
        self.monitor = monitor

    def __sklearn_clone__(self) -> OptunaPruningCallback:
        """A new plugin with the same parameters, holding the same trial (not a copy).

        Returns
        -------
        OptunaPruningCallback
            The clone; ``clone.trial is self.trial``.
        """
        return type(self)(**self.get_params(deep=False))

    def validate(self) -> None:
        """Check that ``trial`` can report and prune and ``monitor`` is a name.

        Raises
        ------
        TypeError
            For a ``trial`` without ``report`` and ``should_prune``, or a
            ``monitor`` that is not a string.
        ValueError
            For an empty ``monitor``.
        """
        if not all(callable(getattr(self.trial, m, None)) for m in ("report", "should_prune")):
            raise TypeError(f"OptunaPruningCallback: trial must be an Optuna trial (with "
                            f"report and should_prune), got {self.trial!r}.")
        if not isinstance(self.monitor, str):
            raise TypeError(f"OptunaPruningCallback: monitor must be a string, got "
                            f"{self.monitor!r}.")
        if not self.monitor:
            raise ValueError("OptunaPruningCallback: monitor must name a key of the "
                             "epoch record, such as 'val_score' or 'loss'.")

    @hookimpl
    def ensemblekit_fit_start(self, estimator: Any) -> None:
        """Refuse a validation monitor without a validation split; warn for L-BFGS."""
        if self.monitor.startswith("val_") and not (
                getattr(estimator, "early_stopping", False)
                or getattr(estimator, "monitor_validation", False)):
            raise ValueError(
                f"OptunaPruningCallback: monitor={self.monitor!r} needs early_stopping=True "
                "or monitor_validation=True (the validation split); set one, or monitor "
                "'loss'.")
        if getattr(estimator, "solver", None) == "lbfgs":
            warnings.warn(
                "OptunaPruningCallback does nothing with solver='lbfgs': L-BFGS has no "
                "epochs to report. Use a stochastic solver ('sgd', 'adam', ...).",
                UserWarning, stacklevel=2)

    @hookimpl
    def ensemblekit_epoch_end(self, record: dict[str, Any], global_epoch: int) -> None:
        """Report the monitored value; raise ``optuna.TrialPruned`` if the trial should stop."""
        if self.monitor not in record:
            raise ValueError(f"OptunaPruningCallback: the epoch record has no "
                             f"{self.monitor!r}; it has {sorted(record)}.")
        assert self.trial is not None  # validate() checked it
        self.trial.report(float(record[self.monitor]), step=global_epoch)
        if self.trial.should_prune():
            import optuna

            raise optuna.TrialPruned(f"trial was pruned at epoch {global_epoch + 1} "
                                     f"({self.monitor} {record[self.monitor]:.6g}).")
