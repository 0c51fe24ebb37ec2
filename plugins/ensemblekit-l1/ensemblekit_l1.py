"""L1 and elastic-net weight penalties for ensemblekit.

Registers :class:`L1` under the name ``"l1"``::

    MLPClassifier(plugins=["l1"])
    MLPClassifier(plugins=[L1(alpha=1e-3, l1_ratio=0.5)])
    GridSearchCV(MLPClassifier(plugins=["l1"]), {"plugins__l1__alpha": [1e-4, 1e-3]})
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from ensemblekit import Plugin, hookimpl

__all__ = ["L1"]
__version__ = "0.1.2"


class L1(Plugin):
    """L1 (lasso) or elastic-net penalty on the weight matrices.

    The penalty added to the mean loss of a batch of ``n`` samples (the sum of
    its sample weights), following scikit-learn's ``alpha / n`` convention as
    ensemblekit's :class:`~ensemblekit.WeightDecay` does, is::

        alpha / n * sum_W( l1_ratio * |W|_1 + (1 - l1_ratio) / 2 * |W|_2^2 )

    Biases are not penalised.  ``l1_ratio=1`` is a pure L1 penalty, which
    drives weights towards exactly zero; ``l1_ratio=0`` is
    :class:`~ensemblekit.WeightDecay`'s L2 penalty.

    **Subgradient at zero.**  ``|w|`` has no derivative at ``w = 0``; this
    plugin uses the subgradient ``0`` there (``numpy.sign(0) == 0``), the
    member of ``[-1, 1]`` that leaves a weight that is exactly zero where it
    is.  Plain (sub)gradient descent makes weights oscillate around zero
    rather than land on it, so expect *many near-zero* weights, not exact
    zeros.

    Parameters
    ----------
    alpha : float, default=0.0001
        Penalty strength, ``>= 0``.  ``0`` switches the penalty off.
    l1_ratio : float, default=1.0
        Share of the L1 term, in ``[0, 1]``; the rest is an L2 term.

    Examples
    --------
    >>> from ensemblekit import MLPClassifier
    >>> from ensemblekit_l1 import L1
    >>> clf = MLPClassifier(plugins=[L1(alpha=1e-3, l1_ratio=0.7)])
    >>> clf.get_params()["plugins__l1__l1_ratio"]
    0.7
    """

    name = "l1"

    #: Parameter values under which the plugin changes nothing (used by
    #: ``ensemblekit.testing.check_plugin``).
    zero_strength_params = {"alpha": 0.0}

    def __init__(self, alpha: float = 0.0001, l1_ratio: float = 1.0) -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio

    def validate(self) -> None:
        """Check ``0 <= alpha < inf`` and ``0 <= l1_ratio <= 1``.

        Raises
        ------
        ValueError
            Naming the parameter and the value it got.
        """
        if not _is_real(self.alpha) or not 0 <= self.alpha < np.inf:
            raise ValueError(f"L1: alpha must be a finite real number >= 0, got "
                             f"{self.alpha!r}.")
        if not _is_real(self.l1_ratio) or not 0 <= self.l1_ratio <= 1:
            raise ValueError(
                f"L1: l1_ratio must be a real number in [0, 1], got {self.l1_ratio!r}."
            )

    @hookimpl
    def ensemblekit_penalty(self, coefs, coef_grads, n_samples):
        """Add the penalty's (sub)gradient to each weight gradient; return its value."""
        if self.alpha == 0:
            return 0.0
        scale = self.alpha / n_samples
        l1 = scale * self.l1_ratio
        l2 = scale * (1.0 - self.l1_ratio)
        total = 0.0
        for W, G in zip(coefs, coef_grads):
            if l1:
                total += l1 * float(np.abs(W).sum())
                G += l1 * np.sign(W)
            if l2:
                flat = W.ravel()
                total += 0.5 * l2 * float(np.dot(flat, flat))
                G += l2 * W
        return total


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


@hookimpl
def ensemblekit_register_plugins(register):
    """Register :class:`L1` as ``"l1"``."""
    register("l1", L1)
