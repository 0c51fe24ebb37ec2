"""Figures without pyplot: one place that imports matplotlib (optional).

Both ``ensemblekit report`` and :mod:`ensemblekit.reproduce` draw on
:class:`matplotlib.figure.Figure` objects directly, so no GUI backend or
global pyplot state is involved.
"""

from __future__ import annotations

from typing import Any

__all__ = ["figure"]


def figure(nrows: int = 1, ncols: int = 1,
           size: tuple[float, float] = (5.5, 3.8)) -> tuple[Any, Any]:
    """A new matplotlib figure (no pyplot state) and its 2-D array of axes.

    Parameters
    ----------
    nrows, ncols : int, default=1
        The grid of axes.
    size : tuple of float, default=(5.5, 3.8)
        Width and height in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
        With a constrained layout.
    axes : numpy.ndarray
        ``nrows`` x ``ncols`` axes.

    Raises
    ------
    ImportError
        When matplotlib is not installed (the message says how to install it).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("writing figures needs matplotlib: pip install "
                          "'ensemblekit[plot]' (or pip install matplotlib).") from exc
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)
