"""MC dropout (Gal & Ghahramani, 2016): dropout kept on at inference.

One network is trained with the :class:`~ensemblekit.Dropout` plugin; at
prediction, ``n_estimators`` passes each drop a different random subset of
hidden units, and the passes are the ensemble's members.

Each pass uses **one mask per hidden unit, shared by every row** (a fixed
"thinned network"), drawn from a generator seeded by the fit and the pass
number.  So a row's prediction does not depend on which other rows are
predicted with it or in what order, repeated calls give the same result, and
the passes really are an ensemble of ``n_estimators`` sub-networks; across
rows the masks have the same distribution as per-row dropout.
"""

from __future__ import annotations

import copy

import numpy as np

from ..hookspecs import hookimpl
from ..plugins import Plugin, resolve_plugins
from .dropout import Dropout

__all__ = ["MCDropout", "MCDropoutMasks"]

_MASKS = "mc_dropout_masks"
#: Attribute of a (shallow copy of a) fitted network that selects the pass.
PASS_ATTRIBUTE = "_mc_dropout_pass"


def _dropout_plugins(plugins) -> list[Dropout]:
    return [p for _, p in plugins if isinstance(p, Dropout)]


class MCDropoutMasks(Plugin):
    """Training plugin that applies pass ``t``'s dropout masks at inference.

    Does nothing while training (the network's :class:`~ensemblekit.Dropout`
    plugin does) nor in an ordinary ``predict``; only when the predicting
    network carries the attribute ``PASS_ATTRIBUTE`` (set by
    :class:`MCDropout` on a shallow copy, so concurrent predictions do not
    interfere).

    Attributes
    ----------
    seed_ : int
        Drawn from the fit's generator; with the pass number and the layer it
        seeds every mask.
    rate_ : float
        The network's dropout rate.
    """

    name = _MASKS

    @hookimpl
    def ensemblekit_fit_start(self, estimator, rng):
        """Take the dropout rate and draw the seed of the masks."""
        dropouts = _dropout_plugins(estimator.plugins_)
        if len(dropouts) != 1 or dropouts[0].mode != "inverted":
            raise ValueError("MCDropoutMasks needs exactly one Dropout plugin, in "
                             "mode='inverted', on the same estimator.")
        self.rate_ = float(dropouts[0].rate)
        self.seed_ = int(rng.integers(2**63))

    @hookimpl
    def ensemblekit_predict_hidden(self, estimator, layer, activation):
        """Drop this pass's units and rescale the others by ``1 / (1 - rate)``."""
        t = getattr(estimator, PASS_ATTRIBUTE, None)
        if t is None or self.rate_ == 0:
            return
        rng = np.random.default_rng([self.seed_, t, layer])
        keep = rng.random(activation.shape[1]) >= self.rate_
        activation *= (keep / (1.0 - self.rate_)).astype(activation.dtype)


class MCDropout(Plugin):
    """Ensemble strategy: ``n_estimators`` stochastic passes of one dropout network.

    The ensemble's estimator must carry exactly one
    :class:`~ensemblekit.Dropout` plugin in its default ``"inverted"`` mode
    (``estimator=MLPClassifier(plugins=[Dropout(rate=0.1)])``); its rate is
    the rate kept on at inference, and can be tuned as
    ``estimator__plugins__dropout__rate``.

    Examples
    --------
    >>> from ensemblekit import Dropout, EnsembleClassifier, MLPClassifier
    >>> member = MLPClassifier(plugins=[Dropout(rate=0.1)])
    >>> ens = EnsembleClassifier(member, n_estimators=20, strategy="mc_dropout")
    """

    name = "mc_dropout"

    @hookimpl
    def ensemblekit_prepare_runs(self, template):
        """Check the dropout plugin and add the inference masks: one run."""
        if not hasattr(template, "plugins"):
            raise ValueError("MC dropout needs an ensemblekit MLP as the estimator; got "
                             f"{type(template).__name__}.")
        dropouts = _dropout_plugins(resolve_plugins(template.plugins))
        if len(dropouts) != 1:
            raise ValueError(
                "MC dropout needs exactly one Dropout plugin on the estimator, e.g. "
                f"MLPClassifier(plugins=[Dropout(rate=0.1)]); found {len(dropouts)}."
            )
        if dropouts[0].mode != "inverted":
            raise ValueError("MC dropout needs Dropout(mode='inverted'): book-mode "
                             "dropout rescales at inference instead of dropping.")
        template.set_params(plugins=[*template.plugins, (_MASKS, MCDropoutMasks())])
        return 1

    @hookimpl
    def ensemblekit_member_outputs(self, estimator, members, X, output):
        """One output per pass, ``n_estimators`` passes per trained network."""
        outputs = []
        for member in members:
            for t in range(estimator.n_estimators):
                thinned = copy.copy(member)
                setattr(thinned, PASS_ATTRIBUTE, t)
                outputs.append(output(thinned, X))
        return np.stack(outputs)


@hookimpl
def ensemblekit_register_plugins(register):
    """Register the strategy and its training plugin."""
    register("mc_dropout", MCDropout)
    register(_MASKS, MCDropoutMasks)
