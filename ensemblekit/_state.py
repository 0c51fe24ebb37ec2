"""Leave an estimator as it was when a ``fit`` fails: nothing the user had is lost."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ._optimizers import BaseOptimizer


def _kept(value: Any) -> Any:
    """A copy of ``value`` that a fit cannot change in place.

    Arrays are copied (warm-started training updates the weights in place),
    lists are copied one level deep, copying the arrays in them (``coefs_``;
    ``loss_curve_`` and ``history_`` grow by appending, and their old entries
    are never changed), and an optimizer's moment buffers are copied with it.
    Everything else -- numbers, strings, the user's parameters, objects a fit
    replaces rather than changes (fitted ensemble members, resolved plugins,
    label binarizers) -- is kept by reference.
    """
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [v.copy() if isinstance(v, np.ndarray) else v for v in value]
    if isinstance(value, BaseOptimizer):
        return copy.deepcopy(value)
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
