"""Ctrl-C at the command line: one line on stderr and exit status 130.

Imports nothing but the standard library, so the entry point
(:mod:`ensemblekit.__main__`) can use it before numpy and scikit-learn are
imported, and the command line (:mod:`ensemblekit.cli`) after.
"""

from __future__ import annotations

import sys
from typing import NoReturn

__all__ = ["EXIT_STATUS", "exit_interrupted"]

#: The exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells use.
EXIT_STATUS = 130


def exit_interrupted(message: str = "interrupted") -> NoReturn:
    """Leave the command line after Ctrl-C: ``message`` on stderr, exit status 130.

    A second Ctrl-C while the process winds down is ignored, so it cannot add
    a traceback to the one line.

    Parameters
    ----------
    message : str, default="interrupted"
        The line written to stderr.

    Raises
    ------
    SystemExit
        Always, with :data:`EXIT_STATUS`.
    """
    import signal  # here, not above: the entry point imports this module at once
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()
    raise SystemExit(EXIT_STATUS)
