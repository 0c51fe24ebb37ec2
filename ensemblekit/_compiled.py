"""Optional numba-compiled element-wise loops, with numpy passes as the fallback.

Some per-step work (Adam's update, weight decay's ``G += scale * W``) is a few
memory-bound numpy passes over the parameter buffer, each streaming whole
arrays and, for expressions such as ``scale * W``, allocating a temporary.
With numba installed (``pip install 'ensemblekit[fast]'``) such a step runs as
one compiled loop instead.  Every loop compiled here performs **the same
float operations in the same order** per element as the numpy passes it
replaces (numba does not contract them into FMAs without ``fastmath``), so
results are bit for bit the same with or without numba, and a test checks
each pair.  ``ENSEMBLEKIT_DISABLE_NUMBA=1`` keeps the numpy passes.
"""

from __future__ import annotations

import os
from collections.abc import Callable

# One entry per loop asked for: the compiled function, or None where numba is
# absent or switched off.  Importing numba costs ~0.3 s and compiling ~1 s per
# dtype (then cached on disk), so both happen on first use only.
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
