"""Point warnings at the user's line, not at ensemblekit's internals."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import FrameType

import pluggy

# Frames in these files are machinery between the user's call and the code
# that warns: ensemblekit itself, pluggy's hook calling (plugins warn from
# inside hooks), and scikit-learn's ``_fit_context`` wrapper around ``fit``.
_INTERNAL_DIRS = (os.path.dirname(os.path.abspath(__file__)) + os.sep,
                  os.path.dirname(os.path.abspath(pluggy.__file__)) + os.sep)
# scikit-learn's base.py, located without importing scikit-learn (seconds)
_SKLEARN = importlib.util.find_spec("sklearn")
_INTERNAL_FILES = (() if _SKLEARN is None or _SKLEARN.origin is None else
                   (os.path.join(os.path.dirname(os.path.abspath(_SKLEARN.origin)), "base.py"),))


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes ``warnings.warn`` name the caller's own line.

    Returns
    -------
    int
        For the function calling this one, the number of frames up to the
        first that is not ensemblekit, pluggy or scikit-learn's ``fit``
        wrapper: the line of the user (or of the library, such as a
        ``GridSearchCV``) that called into ensemblekit.
    """
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not (path.startswith(_INTERNAL_DIRS) or path in _INTERNAL_FILES):
            break
        frame = frame.f_back
        level += 1
    return level
