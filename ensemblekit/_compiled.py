"""numba-compiled element-wise loops, with numpy passes as the fallback.

Some per-step work is a few memory-bound numpy passes over the same arrays,
each streaming them whole and some allocating a temporary: Adam's update,
weight decay's ``G += scale * W``, a hidden layer's bias add and ReLU
(:mod:`ensemblekit._layers`), ReLU's derivative and the bias gradient.  numba
(a dependency) runs each such step as one compiled loop.  Every loop
compiled here performs **the same float operations in the same order** per
element as the numpy passes it replaces (numba does not contract them into
FMAs without ``fastmath``), so results are bit for bit the same with or
without the loops, and a test checks each pair.  ``ENSEMBLEKIT_DISABLE_NUMBA=1``
keeps the numpy passes (and never imports numba).

Nothing is imported or compiled before a loop is first asked for: importing
numba costs ~0.3 s, compiling a loop ~0.1-1 s per dtype the first time, then
``cache=True`` keeps the machine code on disk (next to this file, or in
numba's user cache directory where that is read-only) and later processes
load it in milliseconds.  So ``import ensemblekit`` and the command line's
start-up never pay for it (``python -m benchmarks --only compile`` measures
both costs).
"""

from __future__ import annotations

import os
from collections.abc import Callable

# Below this many values the numpy passes are as fast as a compiled loop.
FUSED_MIN_SIZE = 16_384

# One entry per loop asked for: the compiled function, or None where numba is
# absent (an install without its dependencies) or switched off.
_cache: dict[Callable[..., None], Callable[..., None] | None] = {}


def compiled(loop: Callable[..., None]) -> Callable[..., None] | None:
    """The numba-compiled version of ``loop``, or ``None`` to use numpy instead.

    Parameters
    ----------
    loop : callable
        A plain Python loop over flat arrays, written for numba's ``njit``.

    Returns
    -------
    callable or None
        ``None`` when numba is not installed or ``ENSEMBLEKIT_DISABLE_NUMBA``
        is set to anything but ``""`` or ``"0"``.
    """
    if loop not in _cache:
        _cache[loop] = None
        if os.environ.get("ENSEMBLEKIT_DISABLE_NUMBA", "") in ("", "0"):
            try:
                import numba
            except ImportError:
                return None
            _cache[loop] = numba.njit(cache=True, nogil=True, error_model="numpy")(loop)
    return _cache[loop]


def compiled_for(loop: Callable[..., None], size: int) -> Callable[..., None] | None:
    """:func:`compiled` ``loop`` for arrays of ``size`` values, ``None`` when numpy is as fast.

    Parameters
    ----------
    loop : callable
        A plain Python loop over flat arrays, written for numba's ``njit``.
    size : int
        Values the loop would run over.

    Returns
    -------
    callable or None
        ``None`` below :data:`FUSED_MIN_SIZE` values, or without numba.
    """
    return compiled(loop) if size >= FUSED_MIN_SIZE else None
