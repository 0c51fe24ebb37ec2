"""Point warnings at the user's line, not at ensemblekit's internals."""

from __future__ import annotations

import os
import sys
from types import FrameType

import pluggy
import sklearn.base

# Frames in these files are machinery between the user's call and the code
# that warns: ensemblekit itself, pluggy's hook calling (plugins warn from
# inside hooks), and scikit-learn's ``_fit_context`` wrapper around ``fit``.
_INTERNAL_DIRS = (os.path.dirname(os.path.abspath(__file__)) + os.sep,
                  os.path.dirname(os.path.abspath(pluggy.__file__)) + os.sep)
_INTERNAL_FILES = (os.path.abspath(sklearn.base.__file__),)


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
