"""Helpers for testing plugins: registration for one test, isolated registries, data."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
from sklearn.datasets import load_diabetes, load_iris

from ..plugins import Plugin, Registry, build_registry, get_registry, set_registry

__all__ = ["isolated_registry", "registered_plugin", "toy_classification", "toy_regression"]


@contextmanager
def registered_plugin(plugin_class: type[Plugin], name: str | None = None) -> Iterator[str]:
    """Register ``plugin_class`` in the process-wide registry for one block.

    Inside the block the class can be referred to by name
    (``MLPClassifier(plugins=[name])``, ``plugins__<name>__<param>``, the
    CLI's ``--plugin``), as if an installed distribution had registered it;
    afterwards the name is gone.

    Parameters
    ----------
    plugin_class : type
        A subclass of :class:`ensemblekit.Plugin`.
    name : str, optional
        The name to register; default ``plugin_class.name``.

    Yields
    ------
    name : str
        The registered name.

    Raises
    ------
    ValueError
        If the name is already registered (by a built-in or an installed
        plugin): the message names who registered it.
    TypeError
        If ``plugin_class`` is not a :class:`~ensemblekit.Plugin` subclass or
        the name is empty.

    Examples
    --------
    >>> from ensemblekit import MLPClassifier, Plugin
    >>> from ensemblekit.testing import registered_plugin
    >>> class Nothing(Plugin):
    ...     name = "nothing"
    >>> with registered_plugin(Nothing):
    ...     clf = MLPClassifier(plugins=["nothing"], max_iter=5)
    """
    registry = get_registry()
    name = plugin_class.name if name is None else name
    if name in registry.plugins:
        raise ValueError(
            f"a plugin named {name!r} is already registered (by "
            f"{registry.sources[name][0]}); pass another name"
        )
    registry.add(name, plugin_class, ("ensemblekit.testing", ""))
    try:
        yield name
    finally:
        registry.remove(name)


@contextmanager
def isolated_registry(
    entry_points: Iterable[importlib.metadata.EntryPoint] = (),
) -> Iterator[Registry]:
    """Use a fresh registry of the built-ins plus ``entry_points`` for one block.

    The installed distributions are *not* loaded: only the given entry points
    (objects of :class:`importlib.metadata.EntryPoint` in group
    ``"ensemblekit"``), one at a time with the same isolation and warnings
    as real discovery.  The registry is the process-wide one inside the block
    (so ``plugins=["name"]`` resolves through it) and the previous one is
    restored afterwards.

    Parameters
    ----------
    entry_points : iterable of importlib.metadata.EntryPoint, default=()
        Plugin modules to load after the built-ins.

    Yields
    ------
    registry : ensemblekit.plugins.Registry
        The fresh registry: ``plugins``, ``sources`` and ``failures``.

    Examples
    --------
    >>> from importlib.metadata import EntryPoint
    >>> from ensemblekit.testing import isolated_registry
    >>> ep = EntryPoint("dropout_again", "ensemblekit.default_plugins.dropout",
    ...                 "ensemblekit")
    >>> with isolated_registry([ep]) as registry:
    ...     "dropout" in registry.plugins
    True
    """
    registry = build_registry(entry_points=list(entry_points))
    previous = set_registry(registry)
    try:
        yield registry
    finally:
        set_registry(previous)


def _standardise(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(axis=0)) / a.std(axis=0)


def toy_classification(dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Iris, standardised: 150 samples, 4 features, 3 balanced classes.

    Parameters
    ----------
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Dtype of ``X``.

    Returns
    -------
    X : ndarray of shape (150, 4)
        The four measurements, each scaled to mean 0 and standard deviation 1.
    y : ndarray of shape (150,) of int
        The species, 0, 1 or 2.
    """
    X, y = load_iris(return_X_y=True)
    return _standardise(X).astype(dtype), y


def toy_regression(dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The first 200 rows of diabetes, features and target standardised.

    Parameters
    ----------
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Dtype of ``X`` and ``y``.

    Returns
    -------
    X : ndarray of shape (200, 10)
        The ten baseline variables, each scaled to mean 0 and standard deviation 1.
    y : ndarray of shape (200,)
        Disease progression after one year, scaled the same way.
    """
    X, y = load_diabetes(return_X_y=True)
    return _standardise(X[:200]).astype(dtype), _standardise(y[:200]).astype(dtype)
