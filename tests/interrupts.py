"""Sending Ctrl-C to a command line under test: shared by the Ctrl-C tests.

A process started in the background by a shell without job control (a CI
runner's, ``cmd &`` in a script) inherits an *ignored* SIGINT, and so does
every child it starts; Python keeps it ignored.  The children here get
Ctrl-C's default handling back (:func:`sigint_default`), so a test of Ctrl-C
does not depend on how the test run was started.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable

import pytest


def sigint_default() -> None:
    """In the child (``preexec_fn``): Ctrl-C's default handling, even when inherited ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def imported(line: str) -> str:
    """The module an ``-X importtime`` line reports as imported, or ``""``."""
    return line.rsplit("|", 1)[-1].strip() if line.startswith("import time:") else ""


def interrupt_at(proc: subprocess.Popen, reached: Callable[[str, list[str]], bool],
                 send: Callable[[], None], missed: str) -> tuple[str, list[str]]:
    """Read ``proc``'s stderr until ``reached(line, lines so far)``, then ``send()`` the signal.

    Returns ``proc``'s stdout and the rest of its stderr as lines, without
    ``-X importtime`` lines, once it has ended (killed if it hangs for two
    minutes); fails the test with ``missed`` (and the last lines) when stderr
    ends first.
    """
    seen: list[str] = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if reached(line, seen):
                send()
                break
        else:
            proc.kill()  # nothing to wait for
            pytest.fail(f"{missed}: {''.join(seen[-5:])}")
    finally:
        try:
            stdout, rest = proc.communicate(timeout=120)
        finally:
            proc.kill()
            proc.communicate()
    return stdout, [line for line in rest.splitlines() if not imported(line)]
