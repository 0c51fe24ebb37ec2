"""Parameter constraints of plugins, declared without importing scikit-learn.

A plugin class declares ``_parameter_constraints`` when its module is
imported, and plugin discovery imports every plugin module: with
scikit-learn's constraint objects, listing the plugins
(``ensemblekit plugins``) imported scikit-learn and SciPy, seconds of start-up
spent on nothing.  The built-in plugins therefore declare their constraints
with :func:`Interval` and :func:`StrOptions` from here, which only record
their arguments; the first validation of a plugin class turns them into
scikit-learn's objects (:mod:`ensemblekit._sklearn`), so a bad value raises
scikit-learn's ``InvalidParameterError`` with its message, as before.  A
third-party plugin may declare scikit-learn's own objects: they are used as
they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Deferred", "Interval", "StrOptions", "check_parameters"]


@dataclass(frozen=True)
class Deferred:
    """A scikit-learn constraint object, built on first use.

    Attributes
    ----------
    kind : str
        Its class in :mod:`ensemblekit._sklearn` (``"Interval"``,
        ``"StrOptions"``).
    args : tuple
        The positional arguments of its constructor.
    kwargs : tuple of (str, object)
        The keyword arguments, as pairs.
    """

    kind: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]

    def build(self) -> Any:
        """The scikit-learn constraint object these arguments describe.

        Returns
        -------
        object
            An instance of ``ensemblekit._sklearn.<kind>``.
        """
        from . import _sklearn

        return getattr(_sklearn, self.kind)(*self.args, **dict(self.kwargs))


def Interval(*args: Any, **kwargs: Any) -> Deferred:  # noqa: N802 -- scikit-learn's name
    """scikit-learn's ``Interval(type, left, right, closed=...)``, built on first use.

    Parameters
    ----------
    *args, **kwargs
        As for ``sklearn.utils._param_validation.Interval``.

    Returns
    -------
    Deferred
    """
    return Deferred("Interval", args, tuple(kwargs.items()))


def StrOptions(*args: Any, **kwargs: Any) -> Deferred:  # noqa: N802 -- scikit-learn's name
    """scikit-learn's ``StrOptions(options)``, built on first use.

    Parameters
    ----------
    *args, **kwargs
        As for ``sklearn.utils._param_validation.StrOptions``.

    Returns
    -------
    Deferred
    """
    return Deferred("StrOptions", args, tuple(kwargs.items()))


def check_parameters(obj: Any, constraints: Mapping[str, list[Any]]) -> None:
    """Check ``obj``'s parameters against ``constraints`` as scikit-learn does.

    Parameters
    ----------
    obj : object
        An object with ``get_params`` (a plugin).
    constraints : mapping
        Its class's ``_parameter_constraints``: parameter name to a list of
        constraints, :class:`Deferred` ones or scikit-learn's.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        For the first parameter that satisfies none of its constraints.
    """
    from ._sklearn import validate_parameter_constraints

    built = {name: [c.build() if isinstance(c, Deferred) else c for c in options]
             for name, options in constraints.items()}
    validate_parameter_constraints(built, obj.get_params(deep=False),
                                   caller_name=type(obj).__name__)
