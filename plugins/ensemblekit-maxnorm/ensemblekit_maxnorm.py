"""Max-norm weight constraint for ensemblekit.

Registers :class:`MaxNorm` under the name ``"maxnorm"``::

    MLPClassifier(plugins=["dropout", "maxnorm"])
    MLPClassifier(plugins=[Dropout(0.5), MaxNorm(max_norm=3.0)])
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from ensemblekit import Plugin, hookimpl

__all__ = ["MaxNorm"]
__version__ = "0.1.1"


class MaxNorm(Plugin):
    """Bound the L2 norm of each unit's incoming weight vector.

    After every optimizer step, each column ``W[:, j]`` of each weight matrix
    (the weights *into* unit ``j``) whose norm exceeds ``max_norm`` is scaled
    back onto the ball of radius ``max_norm``; shorter columns are left
    alone.  Srivastava et al. (2014) pair this constraint with dropout: it
    lets a large learning rate be used without weights blowing up.

    Needs a stochastic solver (``sgd``, ``adam``, ``adagrad``, ``rmsprop``):
    ``lbfgs`` takes no optimizer steps, so the constraint could not hold.

    Parameters
    ----------
    max_norm : float, default=3.0
        The bound ``c > 0``; ``inf`` switches the constraint off.
    include_output : bool, default=True
        Also constrain the units of the output layer.

    Examples
    --------
    >>> from ensemblekit import Dropout, MLPClassifier
    >>> from ensemblekit_maxnorm import MaxNorm
    >>> clf = MLPClassifier(plugins=[Dropout(0.5), MaxNorm(max_norm=2.0)])
    """

    name = "maxnorm"

    #: Parameter values under which the plugin changes nothing (used by
    #: ``ensemblekit.testing.check_plugin``).
    zero_strength_params = {"max_norm": math.inf}

    def __init__(self, max_norm: float = 3.0, include_output: bool = True) -> None:
        self.max_norm = max_norm
        self.include_output = include_output

    def validate(self) -> None:
        """Check ``max_norm > 0`` and that ``include_output`` is a bool.

        Raises
        ------
        ValueError
            Naming the parameter and the value it got.
        """
        if (not isinstance(self.max_norm, Real) or isinstance(self.max_norm, bool)
                or not self.max_norm > 0):
            raise ValueError(
                f"MaxNorm: max_norm must be a real number > 0, got {self.max_norm!r}."
            )
        if not isinstance(self.include_output, (bool, np.bool_)):
            raise ValueError(
                f"MaxNorm: include_output must be True or False, got "
                f"{self.include_output!r}."
            )

    @hookimpl
    def ensemblekit_fit_start(self, estimator):
        """Refuse ``lbfgs``, under which the constraint would silently not hold."""
        if estimator.solver == "lbfgs":
            raise ValueError(
                "MaxNorm needs a stochastic solver ('sgd', 'adam', 'adagrad', "
                "'rmsprop'): solver='lbfgs' takes no optimizer steps to constrain."
            )

    @hookimpl
    def ensemblekit_after_step(self, estimator):
        """Scale every too-long incoming weight vector back to ``max_norm``."""
        if self.max_norm == math.inf:
            return
        coefs = estimator.coefs_ if self.include_output else estimator.coefs_[:-1]
        for W in coefs:
            norms = np.sqrt(np.einsum("ij,ij->j", W, W))
            np.maximum(norms, self.max_norm, out=norms)
            W *= self.max_norm / norms  # 1 where the norm is within the bound


@hookimpl
def ensemblekit_register_plugins(register):
    """Register :class:`MaxNorm` as ``"maxnorm"``."""
    register("maxnorm", MaxNorm)
