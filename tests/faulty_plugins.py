"""Plugins that kill their worker on purpose, shared by the fault tests.

Kept in a module of their own so that worker processes (loky, Dask) unpickle
them by importing this small module, not a test module.
"""

import os
import signal
from pathlib import Path

from ensemblekit import Plugin, hookimpl


class KillWorker(Plugin):
    """SIGKILLs the process training the run with ``seed`` at the end of ``epoch``.

    Never kills ``driver`` (the test's process).  With ``marker`` (a file
    path), only the first attempt: it creates the file before dying, so a
    rerun of the same member trains.
    """

    name = "kill_worker"

    def __init__(self, seed=None, epoch=2, marker=None, driver=None):
        self.seed = seed
        self.epoch = epoch
        self.marker = marker
        self.driver = driver

    @hookimpl
    def ensemblekit_epoch_end(self, estimator, epoch):
        """Kill this process when the run, the epoch and the process match."""
        if (estimator.random_state != self.seed or epoch != self.epoch
                or os.getpid() == self.driver):
            return
        if self.marker is not None:
            if os.path.exists(self.marker):
                return
            Path(self.marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
