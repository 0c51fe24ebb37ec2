"""Stochastic optimizers sharing one small interface.

Each optimizer updates **one flat parameter buffer in place** from one flat
gradient buffer of the same size and dtype: one vectorised pass per step
instead of a Python loop over layers, and no allocation after the first step.

The element-wise passes of a step are memory-bound (Adam: twelve passes over
five arrays of 269k floats on the benchmark network, a third of the epoch).
Two things make them cheaper without changing a single bit of the result,
since every element goes through the same operations in the same order:

* **threads**: numpy releases the GIL inside its loops, so the buffer is cut
  into one contiguous part per thread and the parts run at the same time.
  Only for large buffers (a hand-off costs ~20 us) and only as many threads
  as the BLAS may use right now: a caller that capped BLAS to one thread
  (threadpoolctl, an ensemble worker) gets a single-threaded optimizer too,
  so the cores are never oversubscribed.
* **cache-sized chunks**: each part runs all its passes on one chunk at a
  time, so the arrays of a chunk stay in the core's L2 cache between passes
  instead of streaming the whole buffers from memory twelve times.

With numba installed (``pip install 'ensemblekit[fast]'``), Adam's step is
one compiled loop instead of twelve numpy passes: about four times faster,
and **bit for bit the same** result, since each element goes through the
same float operations in the same order (numba does not contract them into
FMAs without ``fastmath``).  So results never depend on whether numba is
there (:mod:`ensemblekit._compiled`).  ``ENSEMBLEKIT_DISABLE_NUMBA=1`` keeps the
numpy passes.

Interface
---------
``update(params, grads)``
    One step, in place.
``iteration_ends(time_step)``
    Called after each epoch with the number of samples seen so far.
``trigger_stopping(msg, verbose) -> bool``
    Called when the loss stopped improving: return ``True`` to stop, or adapt
    (lower the learning rate) and return ``False``.
``learning_rate``
    The current step size.
``set_learning_rate(lr)``
    Change the step size from now on (learning-rate schedules use it).
"""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from ._compiled import compiled_for
from ._threads import blas_threads as _blas_threads
from ._threads import usable_cores as _usable_cores

# Buffers below this many values are updated by one thread: handing a part to
# another thread costs ~20 us, what the passes over ~30k values take.
PARALLEL_MIN_SIZE = 65_536
# Values per chunk: the five arrays of an Adam chunk (params, grads, two
# moments, scratch) take 5 x 128 kB in float32, well inside a 1-2 MB L2.
CHUNK_SIZE = 32_768
# Part boundaries fall on multiples of this many values (64-byte cache lines
# in float32), so two threads never write to the same cache line.
_ALIGN = 16

_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] = (0, 0)  # (process id, workers) the pool was made for


def threads_for(size: int) -> int:
    """How many threads an optimizer step over ``size`` values uses.

    Parameters
    ----------
    size : int
        Values in the flat parameter buffer.

    Returns
    -------
    int
        1 below :data:`PARALLEL_MIN_SIZE`, else the BLAS thread limit capped
        by the cores this process may run on.
    """
    if size < PARALLEL_MIN_SIZE:
        return 1
    return max(1, min(_blas_threads(), _usable_cores()))


def _executor(workers: int) -> ThreadPoolExecutor:
    """The process's helper threads, made on first use, never pickled.

    A module-level pool keeps optimizers (and the estimators holding them)
    picklable.  It is rebuilt in a forked child, whose copy of the pool has
    no threads behind it, and when more workers are needed.
    """
    global _pool, _pool_key
    pid = os.getpid()
    if _pool is None or _pool_key[0] != pid or _pool_key[1] < workers:
        if _pool is not None and _pool_key[0] == pid:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(max_workers=workers,
                                   thread_name_prefix="ensemblekit-optimizer")
        _pool_key = (pid, workers)
    return _pool


def _run_chunks(kernel: Callable[..., None], arrays: tuple[np.ndarray, ...],
                coefs: tuple[Any, ...], lo: int, hi: int) -> None:
    for start in range(lo, hi, CHUNK_SIZE):
        stop = min(start + CHUNK_SIZE, hi)
        kernel(*[a[start:stop] for a in arrays], *coefs)


def run_passes(kernel: Callable[..., None], arrays: tuple[np.ndarray, ...],
               *coefs: Any) -> None:
    """Apply ``kernel`` to the whole of ``arrays``, chunk by chunk, in parallel parts.

    Parameters
    ----------
    kernel : callable
        ``kernel(*array_slices, *coefs)``: element-wise, in place, so that
        running it on slices equals running it on the whole arrays.
    arrays : tuple of ndarray
        Flat arrays of one size.
    *coefs
        Scalars passed to every call.
    """
    size = arrays[0].size
    threads = threads_for(size)
    if threads == 1:
        _run_chunks(kernel, arrays, coefs, 0, size)
        return
    step = -(-size // threads // _ALIGN) * _ALIGN
    pool = _executor(threads - 1)
    futures = [pool.submit(_run_chunks, kernel, arrays, coefs, lo, min(lo + step, size))
               for lo in range(step, size, step)]
    try:
        _run_chunks(kernel, arrays, coefs, 0, step)  # this thread takes the first part
    finally:  # even on Ctrl-C: no helper may still write once the step returns
        wait(futures)
    for future in futures:
        future.result()


# --------------------------------------------------------------------------
# the element-wise passes of each step, on (slices of) the flat buffers; every
# pass is in place, so running a kernel on slices equals running it on the
# whole buffers, bit for bit.  ``tmp`` is scratch.
# --------------------------------------------------------------------------


def _sgd_passes(params: np.ndarray, grads: np.ndarray, tmp: np.ndarray,
                lr: float) -> None:
    np.multiply(grads, lr, out=tmp)
    params -= tmp


def _momentum_passes(params: np.ndarray, grads: np.ndarray, velocity: np.ndarray,
                     tmp: np.ndarray, lr: float, momentum: float, nesterov: bool) -> None:
    np.multiply(grads, lr, out=tmp)
    velocity *= momentum
    velocity -= tmp
    if nesterov:
        params -= tmp
        np.multiply(velocity, momentum, out=tmp)
        params += tmp
    else:
        params += velocity


def _step_passes(params: np.ndarray, numerator: np.ndarray, second: np.ndarray,
                 tmp: np.ndarray, epsilon: float, lr: float) -> None:
    """``params -= lr * numerator / (sqrt(second) + epsilon)``, through ``tmp``."""
    np.sqrt(second, out=tmp)
    tmp += epsilon
    np.divide(numerator, tmp, out=tmp)
    tmp *= lr
    params -= tmp


def _adam_passes(params: np.ndarray, grads: np.ndarray, m: np.ndarray, v: np.ndarray,
                 tmp: np.ndarray, beta_1: float, beta_2: float, epsilon: float,
                 lr: float) -> None:
    m *= beta_1
    np.multiply(grads, 1 - beta_1, out=tmp)
    m += tmp
    v *= beta_2
    np.multiply(grads, grads, out=tmp)
    tmp *= 1 - beta_2
    v += tmp
    _step_passes(params, m, v, tmp, epsilon, lr)


def _adam_loop(params, grads, m, v, beta_1, beta_2, one_minus_beta_1, one_minus_beta_2,
               epsilon, lr):  # pragma: no cover - compiled by numba
    """Adam's passes, fused: the same operations, in the same order, per element."""
    for i in range(params.shape[0]):
        g = grads[i]
        m_i = m[i] * beta_1 + g * one_minus_beta_1
        v_i = v[i] * beta_2 + (g * g) * one_minus_beta_2
        m[i] = m_i
        v[i] = v_i
        params[i] -= lr * (m_i / (np.sqrt(v_i) + epsilon))


def _adagrad_passes(params: np.ndarray, grads: np.ndarray, h: np.ndarray,
                    tmp: np.ndarray, epsilon: float, lr: float) -> None:
    np.multiply(grads, grads, out=tmp)
    h += tmp
    _step_passes(params, grads, h, tmp, epsilon, lr)


def _rmsprop_passes(params: np.ndarray, grads: np.ndarray, h: np.ndarray,
                    tmp: np.ndarray, rho: float, epsilon: float, lr: float) -> None:
    h *= rho
    np.multiply(grads, grads, out=tmp)
    tmp *= 1 - rho
    h += tmp
    _step_passes(params, grads, h, tmp, epsilon, lr)


class BaseOptimizer:
    """Common state and the default stopping rule.

    Parameters
    ----------
    learning_rate_init : float
        Initial step size.
    """

    #: What a step changes besides the parameters (model files keep it, so that
    #: training resumed after ``load`` continues exactly): the current step size,
    #: the step count of the subnormal flush, and each solver's own moments.
    STATE: tuple[str, ...] = ("learning_rate", "_steps")

    def __init__(self, learning_rate_init: float = 0.001) -> None:
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self._tmp: np.ndarray | None = None

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        """The constructor's arguments, as scikit-learn's estimators give theirs.

        Parameters
        ----------
        deep : bool, default=False
            Ignored (an optimizer holds no estimators).

        Returns
        -------
        dict
            Argument name to value.
        """
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return {name: getattr(self, name) for name in names}

    def set_learning_rate(self, learning_rate: float) -> None:
        """Make ``learning_rate`` the step size from the next step on.

        Sets both the current step size and the base rate the solvers derive
        it from (SGD's ``invscaling`` schedule, Adam's bias correction), so
        the new rate holds whichever solver runs.  Learning-rate schedules
        (``ensemblekit_epoch_start`` / ``ensemblekit_batch_start`` hooks)
        call it through the estimator's ``optimizer_``.

        Parameters
        ----------
        learning_rate : float
            The new step size, > 0.
        """
        self.learning_rate = self.learning_rate_init = float(learning_rate)

    def snapshot(self) -> BaseOptimizer:
        """A copy of this optimizer whose state (moments, velocities) later steps leave alone.

        The state arrays are copied; the scratch buffer is not (the copy makes
        its own when it next steps).

        Returns
        -------
        BaseOptimizer
            The copy.
        """
        twin = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray):
                setattr(twin, name, None if name == "_tmp" else value.copy())
        return twin

    def _scratch(self, like: np.ndarray) -> np.ndarray:
        if self._tmp is None or self._tmp.shape != like.shape or (
                self._tmp.dtype != like.dtype):
            self._tmp = np.empty_like(like)
        return self._tmp

    def _state(self, name: str, like: np.ndarray) -> np.ndarray:
        arr = getattr(self, name, None)
        if arr is None or arr.shape != like.shape or arr.dtype != like.dtype:
            arr = np.zeros_like(like)
            setattr(self, name, arr)
        return arr

    def update(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Apply one step to ``params`` in place (implemented by subclasses)."""
        raise NotImplementedError

    def _flush_subnormals(self, *states: np.ndarray | None) -> None:
        """Set decayed state values below ~1e-30 to zero, every 64 steps.

        Units that stop firing get zero gradients, so moment estimates decay
        geometrically into subnormal floats, which x86 computes ~20x slower:
        measured, Adam epochs doubled in time from the 5th epoch on.  Zeroing
        values this small changes parameters by less than 1e-30.
        """
        self._steps = getattr(self, "_steps", 0) + 1
        if self._steps % 64:
            return
        for state in states:
            if state is not None:
                tmp = self._scratch(state)
                np.abs(state, out=tmp)
                np.copyto(state, 0, where=tmp < 1e-30)

    def iteration_ends(self, time_step: int) -> None:
        """React to the end of an epoch (learning-rate schedules).

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far.
        """

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        """Decide what to do when the loss stopped improving.

        Parameters
        ----------
        msg : str
            Why training would stop.
        verbose : bool
            Print the message.

        Returns
        -------
        stop : bool
            ``True``: stop training.
        """
        if verbose:
            print(msg + " Stopping.")
        return True


class SGDOptimizer(BaseOptimizer):
    """Stochastic gradient descent with (Nesterov) momentum and schedules.

    Parameters
    ----------
    learning_rate_init : float
        Initial step size.
    lr_schedule : {"constant", "invscaling", "adaptive"}
        scikit-learn's schedules.
    momentum : float
        Momentum; 0 is plain SGD (the book's ``SGD``).
    nesterov : bool
        Nesterov's momentum (the book's ``Nesterov``).
    power_t : float
        Exponent of the ``invscaling`` schedule.
    """

    STATE = (*BaseOptimizer.STATE, *("velocity",))

    def __init__(self, learning_rate_init: float = 0.1, lr_schedule: str = "constant",
                 momentum: float = 0.9, nesterov: bool = False,
                 power_t: float = 0.5) -> None:
        super().__init__(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.power_t = float(power_t)
        self.velocity: np.ndarray | None = None

    def update(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Apply one (momentum) SGD step to ``params`` in place."""
        tmp = self._scratch(grads)
        if self.momentum == 0:
            run_passes(_sgd_passes, (params, grads, tmp), self.learning_rate)
            return
        v = self._state("velocity", params)
        run_passes(_momentum_passes, (params, grads, v, tmp), self.learning_rate,
                   self.momentum, self.nesterov)
        self._flush_subnormals(v)

    def iteration_ends(self, time_step: int) -> None:
        """Apply the ``invscaling`` schedule."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg: str, verbose: bool) -> bool:
        """Stop, or with the ``adaptive`` schedule divide the step size by 5."""
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class AdamOptimizer(BaseOptimizer):
    """Adam (Kingma & Ba, 2014), bias-corrected.

    Parameters
    ----------
    learning_rate_init : float
        Step size.
    beta_1, beta_2 : float
        Decay rates of the first and second moment estimates.
    epsilon : float
        Numerical stabiliser.
    """

    STATE = (*BaseOptimizer.STATE, *("t", "m", "v"))

    def __init__(self, learning_rate_init: float = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8) -> None:
        super().__init__(learning_rate_init)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.t = 0
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None

    def update(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Apply one Adam step to ``params`` in place."""
        self.t += 1
        m = self._state("m", params)
        v = self._state("v", params)
        self.learning_rate = (self.learning_rate_init
                              * np.sqrt(1 - self.beta_2 ** self.t)
                              / (1 - self.beta_1 ** self.t))
        # every scalar in the buffers' dtype, as numpy's weak Python scalars already
        # are: the numpy passes and the compiled loop then round identically
        cast = params.dtype.type
        lr = cast(self.learning_rate)
        loop = compiled_for(_adam_loop, params.size)
        if loop is None:
            run_passes(_adam_passes, (params, grads, m, v, self._scratch(grads)),
                       self.beta_1, self.beta_2, self.epsilon, lr)
        else:
            run_passes(loop, (params, grads, m, v), cast(self.beta_1), cast(self.beta_2),
                       cast(1 - self.beta_1), cast(1 - self.beta_2), cast(self.epsilon), lr)
        self._flush_subnormals(m, v)


class AdaGradOptimizer(BaseOptimizer):
    """AdaGrad (Duchi et al., 2011), as in the book's ``AdaGrad``.

    Parameters
    ----------
    learning_rate_init : float
        Step size.
    epsilon : float
        Numerical stabiliser.
    """

    STATE = (*BaseOptimizer.STATE, *("h",))

    def __init__(self, learning_rate_init: float = 0.01, epsilon: float = 1e-8) -> None:
        super().__init__(learning_rate_init)
        self.epsilon = float(epsilon)
        self.h: np.ndarray | None = None

    def update(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Apply one AdaGrad step to ``params`` in place."""
        h = self._state("h", params)
        run_passes(_adagrad_passes, (params, grads, h, self._scratch(grads)),
                   self.epsilon, self.learning_rate)


class RMSpropOptimizer(BaseOptimizer):
    """RMSprop (Tieleman & Hinton, 2012), as in the book's ``RMSprop``.

    Parameters
    ----------
    learning_rate_init : float
        Step size.
    rho : float
        Decay rate of the squared-gradient average.
    epsilon : float
        Numerical stabiliser.
    """

    STATE = (*BaseOptimizer.STATE, *("h",))

    def __init__(self, learning_rate_init: float = 0.01, rho: float = 0.99,
                 epsilon: float = 1e-8) -> None:
        super().__init__(learning_rate_init)
        self.rho = float(rho)
        self.epsilon = float(epsilon)
        self.h: np.ndarray | None = None

    def update(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Apply one RMSprop step to ``params`` in place."""
        h = self._state("h", params)
        run_passes(_rmsprop_passes, (params, grads, h, self._scratch(grads)),
                   self.rho, self.epsilon, self.learning_rate)
        self._flush_subnormals(h)
