"""Leave an estimator as it was when a ``fit`` fails: nothing the user had is lost."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._optimizers import BaseOptimizer


def _kept(value: Any) -> Any:
    """A copy of ``value`` that a fit cannot change in place.

    Lists are copied (``loss_curve_``, ``history_`` and ``validation_scores_``
    grow by appending), and so is an optimizer's state (its moments are
    updated in place).  Everything else is kept by reference: a fit replaces
    rather than changes it -- weights (every fit copies them into a fresh
    flat buffer and rebinds ``coefs_`` and the rest to it), fitted ensemble
    members, resolved plugins, label binarizers, the user's parameters.
    ``tests/test_faults.py`` checks, byte for byte, that a failed warm-started
    refit leaves all of it as it was.
    """
    if isinstance(value, list):
        return list(value)
    if isinstance(value, BaseOptimizer):
        return value.snapshot()
    return value


@contextmanager
def unchanged_on_failure(estimator: Any) -> Iterator[None]:
    """Put back every attribute of ``estimator`` if the block raises (or is interrupted).

    A failed or interrupted ``fit`` then leaves an estimator as it was,
    fitted or not: never new ``classes_`` beside the previous weights, an
    ensemble's new classes beside its previous members, or weights half
    re-initialised by a warm start that failed.

    Parameters
    ----------
    estimator : estimator
        The estimator whose ``fit`` runs in the block.

    Yields
    ------
    None
    """
    before = {name: _kept(value) for name, value in vars(estimator).items()}
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(before)
        raise
