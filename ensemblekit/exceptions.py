"""Every public error and warning of ensemblekit, in one place.

The classes are re-exported from :mod:`ensemblekit` and, for compatibility,
from the modules that first defined them (``ensemblekit.mlp``,
``ensemblekit.plugins``, ``ensemblekit.ensemble``, ``ensemblekit.io``): both
import paths give the same class object.

This module imports nothing of ensemblekit, so every layer may import it.
Nor does it import scikit-learn before :class:`DivergenceWarning` is first
asked for (it subclasses scikit-learn's ``ConvergenceWarning``): plugin
discovery imports this module, and importing scikit-learn takes seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "INTERRUPTED",
    "DivergenceWarning",
    "EnsembleFitError",
    "ModelFileError",
    "OnnxExportError",
    "PluginError",
    "PluginLoadWarning",
    "SchemaError",
    "SchemaWarning",
    "SettingError",
    "TrainingAborted",
    "TrainingDiverged",
    "TrainingInterrupted",
]

#: The message of the :class:`TrainingInterrupted` warning a fit that Ctrl-C
#: stopped raises (its weights are those of the last finished step); ensembles
#: and the command line look for it.
INTERRUPTED = "Training interrupted by user."


# --------------------------------------------------------------------------
# training (estimators)
# --------------------------------------------------------------------------
_DIVERGENCE_DOC = """Training produced a non-finite loss and stopped at the last finite weights.

    Raised (as a warning) by a fit with ``on_divergence="stop"``, and by an
    ensemble whose members diverged while others trained.  A subclass of
    scikit-learn's ``ConvergenceWarning``, so filters on that catch it too.
    """

if TYPE_CHECKING:
    from sklearn.exceptions import ConvergenceWarning

    class DivergenceWarning(ConvergenceWarning):
        __doc__ = _DIVERGENCE_DOC


def __getattr__(name: str) -> Any:
    """Define :class:`DivergenceWarning` on first use (PEP 562), importing scikit-learn.

    Parameters
    ----------
    name : str
        The attribute asked for.

    Returns
    -------
    type
        ``DivergenceWarning``, the same class object on every call.

    Raises
    ------
    AttributeError
        For any other name.
    """
    if name != "DivergenceWarning":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from sklearn.exceptions import ConvergenceWarning

    cls = type("DivergenceWarning", (ConvergenceWarning,),
               {"__doc__": _DIVERGENCE_DOC, "__module__": __name__})
    globals()[name] = cls
    return cls


class TrainingInterrupted(UserWarning):
    """Ctrl-C stopped training; the estimator keeps its last finite weights.

    The fit returns normally (as Keras and scikit-learn's MLP do on
    ``KeyboardInterrupt``), so a model interrupted after a long run is not
    lost; ``n_iter_`` and ``loss_curve_`` cover the finished epochs.  An
    ensemble member that warns this stops its ensemble, and ``ensemblekit
    train`` writes no model.  The message is
    :data:`~ensemblekit.exceptions.INTERRUPTED`.
    """


class TrainingDiverged(ValueError):
    """Training produced a non-finite loss and ``on_divergence="raise"``."""


class TrainingAborted(Exception):
    """Base class of the exceptions a plugin raises to abort a fit for its caller.

    An exception raised in a hook normally becomes a :class:`PluginError`
    naming the plugin.  One that subclasses ``TrainingAborted`` is re-raised
    as it is instead, so the code that called ``fit`` can catch it: the fit
    stops there and, as after any failed fit, the estimator is left as it was
    before the call.  (To end training early *and keep* the weights, return
    ``True`` from ``ensemblekit_should_stop`` instead.)

    A plugin that must raise a third-party class subclasses both
    (``class Stop(TrainingAborted, tune.StopIteration)``).  Optuna's
    ``optuna.TrialPruned`` passes through as it is too, without subclassing
    (:data:`ensemblekit.plugins.PASS_THROUGH_EXCEPTIONS`).  An ensemble
    member's fit runs in a worker and its errors come back as data, so there
    it still ends as :class:`EnsembleFitError`.
    """


# --------------------------------------------------------------------------
# ensembles
# --------------------------------------------------------------------------
class EnsembleFitError(RuntimeError):
    """A member's training raised, a worker died, or the runs timed out.

    Parameters
    ----------
    message : str
        What failed, and what to do about it.
    member : int or None, default=None
        Index of the training run that failed, when known.
    seed : int or None, default=None
        That run's seed, when known.

    Attributes
    ----------
    member : int or None
        Index of the training run that failed, when known.
    seed : int or None
        Its seed: ``clone(estimator).set_params(random_state=seed)`` trained
        on the same rows reproduces the failure.
    """

    def __init__(self, message: str, member: int | None = None,
                 seed: int | None = None) -> None:
        super().__init__(message)
        self.member = member
        self.seed = seed


# --------------------------------------------------------------------------
# plugins
# --------------------------------------------------------------------------
class PluginLoadWarning(UserWarning):
    """A third-party plugin could not be loaded; the others still are.

    The message names the entry point and its distribution.  With
    ``ENSEMBLEKIT_STRICT_PLUGINS`` set, a :class:`PluginError` is raised instead.
    """


class PluginError(RuntimeError):
    """A plugin failed while a hook ran, or the plugin set is inconsistent.

    Also raised for a third-party plugin that fails to load when
    ``ENSEMBLEKIT_STRICT_PLUGINS`` is set; the message names the plugin.
    """


# --------------------------------------------------------------------------
# model files
# --------------------------------------------------------------------------
class ModelFileError(ValueError):
    """A file is not a model :func:`ensemblekit.load` can read; the message says why."""


class OnnxExportError(ValueError):
    """A model, or a part of it, has no faithful ONNX graph; the message names it.

    Raised by :mod:`ensemblekit.onnx` (and ``ensemblekit export``) instead of
    writing a graph that would predict differently: a third-party inference
    hook, the MC-dropout strategy, an unknown combiner, a member that has no
    converter.
    """


class SchemaError(ValueError):
    """A table does not fit the schema: the message names the column and the value."""


class SchemaWarning(UserWarning):
    """A column was read in a way worth knowing about (huge integers as floats)."""


class SettingError(ValueError):
    """A setting holds a value of the wrong form (or settings that do not go together).

    Parameters
    ----------
    message : str
        What is wrong and what to give instead.
    setting : str or None, default=None
        The setting at fault (``"max_iter"``), or None when the message names
        the settings itself.
    """

    def __init__(self, message: str, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting
