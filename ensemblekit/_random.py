"""Random number generation: one generator per fit, never the global one."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["make_rng"]


def make_rng(random_state: Any) -> np.random.Generator:
    """Return the generator a fit draws from.

    Parameters
    ----------
    random_state : int, numpy.random.RandomState, numpy.random.Generator or None
        A ``Generator`` is used as it is (shared with the caller); a legacy
        ``RandomState`` seeds a new generator with one draw from it; an int or
        None seeds a new generator (None: fresh entropy).

    Returns
    -------
    numpy.random.Generator
        The generator; the global NumPy random state is never used.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)
