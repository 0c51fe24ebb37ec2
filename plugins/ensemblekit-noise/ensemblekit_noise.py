"""Gaussian noise on hidden activations while training, for ensemblekit.

Registers :class:`GaussianNoise` under the name ``"noise"``::

    MLPClassifier(plugins=["noise"])
    MLPClassifier(plugins=[GaussianNoise(stddev=0.3)])
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from ensemblekit import Plugin, hookimpl

__all__ = ["GaussianNoise"]
__version__ = "0.1.1"


class GaussianNoise(Plugin):
    """Add zero-mean Gaussian noise to hidden activations while training.

    Keras' ``GaussianNoise`` layer as a plugin: during every training forward
    pass each hidden unit's output gets ``N(0, stddev**2)`` noise added; at
    ``predict`` nothing is added.  Noise is drawn from the fit's own
    generator (handed to ``ensemblekit_fit_start``), so a fixed
    ``random_state`` gives the same fit.  Additive noise has derivative 1, so
    back-propagation needs no hook.

    Parameters
    ----------
    stddev : float, default=0.1
        Standard deviation of the noise, ``>= 0``; ``0`` switches it off (and
        draws nothing, leaving the fit's random stream untouched).

    Examples
    --------
    >>> from ensemblekit import MLPClassifier
    >>> from ensemblekit_noise import GaussianNoise
    >>> clf = MLPClassifier(plugins=[GaussianNoise(stddev=0.3)])
    """

    name = "noise"

    #: Parameter values under which the plugin changes nothing (used by
    #: ``ensemblekit.testing.check_plugin``).
    zero_strength_params = {"stddev": 0.0}

    def __init__(self, stddev: float = 0.1) -> None:
        self.stddev = stddev

    def validate(self) -> None:
        """Check ``stddev >= 0``.

        Raises
        ------
        ValueError
            Naming the parameter and the value it got.
        """
        if (not isinstance(self.stddev, Real) or isinstance(self.stddev, bool)
                or not 0 <= self.stddev < np.inf):
            raise ValueError(
                f"GaussianNoise: stddev must be a finite real number >= 0, got "
                f"{self.stddev!r}."
            )

    @hookimpl
    def ensemblekit_fit_start(self, rng):
        """Keep the fit's generator; the noise is drawn from it."""
        self._rng = rng
        self._buffers: dict[int, np.ndarray] = {}

    @hookimpl
    def ensemblekit_fit_end(self):
        """Drop the generator and buffers: they are not fitted state."""
        for attr in ("_rng", "_buffers"):
            self.__dict__.pop(attr, None)

    @hookimpl
    def ensemblekit_forward_hidden(self, layer, activation):
        """Add ``stddev * N(0, 1)`` noise to ``activation`` in place."""
        if self.stddev == 0:
            return
        buf = self._buffers.get(layer)
        if buf is None or buf.shape[0] < activation.shape[0] or (
                buf.shape[1:] != activation.shape[1:] or buf.dtype != activation.dtype):
            buf = np.empty_like(activation)
            self._buffers[layer] = buf
        noise = buf[: activation.shape[0]]
        self._rng.standard_normal(out=noise, dtype=noise.dtype)
        noise *= self.stddev
        activation += noise


@hookimpl
def ensemblekit_register_plugins(register):
    """Register :class:`GaussianNoise` as ``"noise"``."""
    register("noise", GaussianNoise)
