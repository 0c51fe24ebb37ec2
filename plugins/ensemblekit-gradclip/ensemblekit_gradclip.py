"""Global gradient-norm clipping for ensemblekit.

Registers :class:`GradClip` under the name ``"gradclip"``::

    MLPRegressor(solver="sgd", plugins=["gradclip"])
    MLPRegressor(solver="sgd", plugins=[GradClip(max_norm=5.0)])
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from ensemblekit import Plugin, hookimpl

__all__ = ["GradClip"]
__version__ = "0.1.1"


class GradClip(Plugin):
    """Rescale the whole gradient when its global L2 norm exceeds a bound.

    Before every optimizer step, the norm of all gradients taken together
    (weights, biases and batch-norm parameters, penalties included) is
    computed; if it exceeds ``max_norm`` every gradient is multiplied by
    ``max_norm / norm``, which keeps the step's direction (Pascanu et al.,
    2013; PyTorch's ``clip_grad_norm_``).  With plain SGD the step is then at
    most ``learning_rate * max_norm`` long.  A non-finite norm is left alone:
    the estimator's divergence handling deals with it.

    Needs a stochastic solver: ``lbfgs`` takes no optimizer steps.

    Parameters
    ----------
    max_norm : float, default=1.0
        The bound, ``> 0``; ``inf`` switches clipping off.

    Attributes
    ----------
    n_clipped_ : int
        On the fitted clone in ``estimator.plugins_``: how many steps of the
        last fit were clipped.

    Examples
    --------
    >>> from ensemblekit import MLPRegressor
    >>> from ensemblekit_gradclip import GradClip
    >>> reg = MLPRegressor(solver="sgd", plugins=[GradClip(max_norm=5.0)])
    """

    name = "gradclip"

    #: Parameter values under which the plugin changes nothing (used by
    #: ``ensemblekit.testing.check_plugin``).
    zero_strength_params = {"max_norm": math.inf}

    def __init__(self, max_norm: float = 1.0) -> None:
        self.max_norm = max_norm

    def validate(self) -> None:
        """Check ``max_norm > 0``.

        Raises
        ------
        ValueError
            Naming the parameter and the value it got.
        """
        if (not isinstance(self.max_norm, Real) or isinstance(self.max_norm, bool)
                or not self.max_norm > 0):
            raise ValueError(
                f"GradClip: max_norm must be a real number > 0, got {self.max_norm!r}."
            )

    @hookimpl
    def ensemblekit_fit_start(self, estimator):
        """Refuse ``lbfgs``; start counting clipped steps."""
        if estimator.solver == "lbfgs":
            raise ValueError(
                "GradClip needs a stochastic solver ('sgd', 'adam', 'adagrad', "
                "'rmsprop'): solver='lbfgs' takes no optimizer steps to clip."
            )
        self.n_clipped_ = 0

    @hookimpl
    def ensemblekit_before_step(self, grads):
        """Scale all gradients by ``max_norm / norm`` when ``norm > max_norm``."""
        if self.max_norm == math.inf:
            return
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
        if norm > self.max_norm and math.isfinite(norm):
            scale = self.max_norm / norm
            for g in grads:
                g *= scale
            self.n_clipped_ += 1


@hookimpl
def ensemblekit_register_plugins(register):
    """Register :class:`GradClip` as ``"gradclip"``."""
    register("gradclip", GradClip)
