"""``python -m ensemblekit`` and the ``ensemblekit`` console script.

:func:`main` is the console script's entry point (``pyproject.toml``).  It
imports the command line itself, so that Ctrl-C while numpy and scikit-learn
are still being imported ends the process like Ctrl-C at any later moment:
``interrupted`` on stderr, exit status 130, no traceback.  Importing the
package costs nothing (``ensemblekit/__init__.py`` imports its names when
first used), so this module runs within milliseconds of the interpreter's
start.
"""

from __future__ import annotations

import sys

from ._interrupt import EXIT_STATUS, exit_interrupted

__all__ = ["main"]


def main() -> None:
    """Run the ``ensemblekit`` command line; Ctrl-C at any moment exits 130.

    Raises
    ------
    SystemExit
        With the command's exit status (130 after Ctrl-C).
    """
    try:
        from .cli import cli
    except KeyboardInterrupt:
        exit_interrupted()
    cli(prog_name="ensemblekit")


def _run_as_module() -> None:
    """``python -m ensemblekit``: :func:`main`, and exit 130 after Ctrl-C, not -2.

    A ``KeyboardInterrupt`` raised while a C extension module runs Python code
    through ``PyRun_String`` (some do as they are imported) sets a flag in
    CPython that outlives the exception: caught and turned into exit status
    130, it still makes ``python -m`` (not a console script) end with a
    SIGINT of its own.  Running an empty statement the same way clears it.
    """
    try:
        main()
    except SystemExit as exc:
        if exc.code == EXIT_STATUS and sys.implementation.name == "cpython":
            import ctypes

            ctypes.pythonapi.PyRun_SimpleString(b"pass")
        raise


if __name__ == "__main__":
    _run_as_module()
