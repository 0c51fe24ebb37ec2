"""Learning-rate schedules: plugins of the ``ensemblekit_learning_rate`` hook.

Each schedule is an ordinary plugin, written against the public seam a third
party would use: the hook returns the step size of the coming optimizer
step from the global counters (``step``, ``global_epoch``), so schedules go
on across ``partial_fit`` calls and warm starts.  A network follows one
schedule; a second one is an error naming both.  The formulas are the ones
Keras (``optimizers.schedules``) and PyTorch (``lr_scheduler``) users know:

* :class:`CosineWarmRestarts` -- SGDR (Loshchilov & Hutter), per step, with an
  optional linear warm-up;
* :class:`LinearWarmup` -- a linear ramp to ``learning_rate_init``, then constant;
* :class:`OneCycle` -- Smith's one-cycle policy with cosine annealing;
* :class:`StepDecay` -- multiply by ``gamma`` every ``step_epochs`` epochs.

With ``solver="lbfgs"`` there are no steps to schedule: a schedule warns and
does nothing.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real
from typing import Any

from .._stack import user_stacklevel
from ..hookspecs import hookimpl
from ..plugins import Plugin

__all__ = ["CosineWarmRestarts", "LinearWarmup", "OneCycle", "StepDecay"]


def _check(plugin: Plugin, name: str, kind: type, low: float, *, low_open: bool = False,
           high: float | None = None, none_ok: bool = False) -> None:
    """Raise naming ``name`` unless the parameter is a ``kind`` in the range."""
    value: Any = getattr(plugin, name)
    if value is None and none_ok:
        return
    valid = isinstance(value, kind) and not isinstance(value, bool)
    number = float(value) if valid else math.nan
    ok = math.isfinite(number) and (number > low if low_open else number >= low)
    ok = ok and (high is None or number <= high)
    if not ok:
        bound = f"> {low}" if low_open else f">= {low}"
        if high is not None:
            bound += f" and <= {high}"
        what = "an integer" if kind is Integral else "a finite number"
        raise ValueError(f"{type(plugin).__name__}: {name} must be {what} {bound}"
                         f"{' or None' if none_ok else ''}, got {value!r}.")


class _Schedule(Plugin):
    """What every schedule shares: a warning where no step is scheduled."""

    @hookimpl
    def ensemblekit_fit_start(self, estimator: Any) -> None:
        """Warn when the solver takes no scheduled steps (L-BFGS)."""
        if getattr(estimator, "solver", None) == "lbfgs":
            warnings.warn(
                f"{type(self).__name__} does nothing with solver='lbfgs': L-BFGS takes "
                "no scheduled steps. Use a stochastic solver ('sgd', 'adam', ...).",
                UserWarning, stacklevel=user_stacklevel())


def _cosine(position: float, length: float, first: float, last: float) -> float:
    """Half a cosine from ``first`` (at position 0) to ``last`` (at ``length`` and after)."""
    return last + 0.5 * (first - last) * (1.0 + math.cos(math.pi * min(position / length, 1.0)))


class CosineWarmRestarts(_Schedule):
    """Cosine annealing with warm restarts (SGDR), updated every step.

    After ``warmup_steps`` steps of a linear ramp up to ``lr_max``, the rate
    follows ``lr_min + (lr_max - lr_min) / 2 * (1 + cos(pi * t / T))``, where
    ``t`` is the (fractional) number of epochs since the current cycle
    started and ``T`` the cycle's length: ``cycle_epochs``, multiplied by
    ``cycle_mult`` after every restart.

    Parameters
    ----------
    cycle_epochs : float, default=10
        Length of the first cycle, in epochs (``T_0``).
    cycle_mult : int, default=1
        Factor by which each cycle is longer than the last (``T_mult``).
    lr_min : float, default=0.0
        Rate at the end of every cycle.
    lr_max : float or None, default=None
        Rate at the start of every cycle; ``None`` is ``learning_rate_init``.
    warmup_steps : int, default=0
        Steps of linear warm-up before the first cycle.

    Examples
    --------
    >>> from ensemblekit import MLPClassifier
    >>> from ensemblekit.default_plugins.schedules import CosineWarmRestarts
    >>> clf = MLPClassifier(solver="sgd", learning_rate_init=0.1,
    ...                     plugins=[CosineWarmRestarts(cycle_epochs=5, cycle_mult=2)])
    """

    name = "cosine_restarts"

    def __init__(self, cycle_epochs: float = 10, cycle_mult: int = 1, lr_min: float = 0.0,
                 lr_max: float | None = None, warmup_steps: int = 0) -> None:
        self.cycle_epochs = cycle_epochs
        self.cycle_mult = cycle_mult
        self.lr_min = lr_min
        self.lr_max = lr_max
        self.warmup_steps = warmup_steps

    def validate(self) -> None:
        """Check the parameters; raise ``ValueError`` naming the bad one."""
        _check(self, "cycle_epochs", Real, 0, low_open=True)
        _check(self, "cycle_mult", Integral, 1)
        _check(self, "lr_min", Real, 0)
        _check(self, "lr_max", Real, 0, low_open=True, none_ok=True)
        _check(self, "warmup_steps", Integral, 0)

    @hookimpl
    def ensemblekit_learning_rate(self, step: int, steps_per_epoch: int,
                                  learning_rate_init: float) -> float:
        """The rate of ``step``: warm-up, then the current cycle's cosine."""
        high = learning_rate_init if self.lr_max is None else self.lr_max
        if step < self.warmup_steps:
            return high * (step + 1) / self.warmup_steps
        t = (step - self.warmup_steps) / steps_per_epoch
        length = float(self.cycle_epochs)
        if self.cycle_mult == 1:
            t %= length
        else:  # cycle n starts at T0 (m^n - 1) / (m - 1) epochs
            m = self.cycle_mult
            n = int(math.log(t / length * (m - 1) + 1, m))
            t -= length * (m ** n - 1) / (m - 1)
            length *= m ** n
            if t >= length:  # log's rounding put us one cycle early
                t, length = t - length, length * m
        return _cosine(t, length, high, self.lr_min)


class LinearWarmup(_Schedule):
    """A linear ramp to ``learning_rate_init`` over the first steps, then constant.

    Step ``k < warmup_steps`` trains at
    ``learning_rate_init * (start_factor + (1 - start_factor) * (k + 1) / warmup_steps)``.

    Parameters
    ----------
    warmup_steps : int, default=100
        Steps of the ramp.
    start_factor : float, default=0.0
        Fraction of ``learning_rate_init`` the ramp starts from.

    Examples
    --------
    >>> from ensemblekit import MLPClassifier
    >>> from ensemblekit.default_plugins.schedules import LinearWarmup
    >>> clf = MLPClassifier(plugins=[LinearWarmup(warmup_steps=50)])
    """

    name = "warmup"

    def __init__(self, warmup_steps: int = 100, start_factor: float = 0.0) -> None:
        self.warmup_steps = warmup_steps
        self.start_factor = start_factor

    def validate(self) -> None:
        """Check the parameters; raise ``ValueError`` naming the bad one."""
        _check(self, "warmup_steps", Integral, 1)
        _check(self, "start_factor", Real, 0, high=1)

    @hookimpl
    def ensemblekit_learning_rate(self, step: int, learning_rate_init: float) -> float:
        """The ramp's rate at ``step``, ``learning_rate_init`` after it."""
        done = min(1.0, (step + 1) / self.warmup_steps)
        return learning_rate_init * (self.start_factor + (1.0 - self.start_factor) * done)


class OneCycle(_Schedule):
    """Smith's one-cycle policy, with cosine annealing.

    The rate rises from ``lr_max / div_factor`` to ``lr_max`` over the first
    ``pct_start`` of ``total_steps``, then falls to
    ``lr_max / (div_factor * final_div_factor)`` at the last step and stays
    there.

    Parameters
    ----------
    lr_max : float or None, default=None
        The peak rate; ``None`` is ``learning_rate_init``.
    total_steps : int or None, default=None
        Length of the cycle in steps; ``None`` is ``max_iter`` epochs.
    pct_start : float, default=0.3
        Share of the cycle spent rising.
    div_factor : float, default=25.0
        ``lr_max`` over the starting rate.
    final_div_factor : float, default=1e4
        The starting rate over the final rate.

    Examples
    --------
    >>> from ensemblekit import MLPClassifier
    >>> from ensemblekit.default_plugins.schedules import OneCycle
    >>> clf = MLPClassifier(solver="sgd", max_iter=30, plugins=[OneCycle(lr_max=0.5)])
    """

    name = "one_cycle"

    def __init__(self, lr_max: float | None = None, total_steps: int | None = None,
                 pct_start: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4) -> None:
        self.lr_max = lr_max
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor

    def validate(self) -> None:
        """Check the parameters; raise ``ValueError`` naming the bad one."""
        _check(self, "lr_max", Real, 0, low_open=True, none_ok=True)
        _check(self, "total_steps", Integral, 2, none_ok=True)
        _check(self, "pct_start", Real, 0, low_open=True, high=1)
        _check(self, "div_factor", Real, 1)
        _check(self, "final_div_factor", Real, 1)

    @hookimpl
    def ensemblekit_learning_rate(self, estimator: Any, step: int, steps_per_epoch: int,
                                  learning_rate_init: float) -> float:
        """The cycle's rate at ``step``."""
        peak = learning_rate_init if self.lr_max is None else self.lr_max
        total = self.total_steps or estimator.max_iter * steps_per_epoch
        start, end = peak / self.div_factor, peak / (self.div_factor * self.final_div_factor)
        rise = max(1.0, self.pct_start * (total - 1))
        if step <= rise:
            return _cosine(step, rise, start, peak)
        return _cosine(step - rise, max(1.0, total - 1 - rise), peak, end)


class StepDecay(_Schedule):
    """Multiply the rate by ``gamma`` every ``step_epochs`` epochs.

    Epoch ``e`` (counted across ``partial_fit`` calls) trains at
    ``learning_rate_init * gamma ** (e // step_epochs)``.

    Parameters
    ----------
    step_epochs : int, default=10
        Epochs between two decays.
    gamma : float, default=0.1
        The decay factor.

    Examples
    --------
    >>> from ensemblekit import MLPClassifier
    >>> from ensemblekit.default_plugins.schedules import StepDecay
    >>> clf = MLPClassifier(solver="sgd", plugins=[StepDecay(step_epochs=20, gamma=0.5)])
    """

    name = "step_decay"

    def __init__(self, step_epochs: int = 10, gamma: float = 0.1) -> None:
        self.step_epochs = step_epochs
        self.gamma = gamma

    def validate(self) -> None:
        """Check the parameters; raise ``ValueError`` naming the bad one."""
        _check(self, "step_epochs", Integral, 1)
        _check(self, "gamma", Real, 0, low_open=True, high=1)

    @hookimpl
    def ensemblekit_learning_rate(self, global_epoch: int,
                                  learning_rate_init: float) -> float:
        """``learning_rate_init * gamma ** (global_epoch // step_epochs)``."""
        return learning_rate_init * self.gamma ** (global_epoch // self.step_epochs)


@hookimpl
def ensemblekit_register_plugins(register):
    """Register the schedules under their names."""
    for schedule in (CosineWarmRestarts, LinearWarmup, OneCycle, StepDecay):
        register(schedule.name, schedule)
