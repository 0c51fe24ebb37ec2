"""Result containers, per-round statistics and rendering (terminal and Markdown)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class RunConfig:
    """What one harness run measures.

    Parameters
    ----------
    quick : bool
        Small sizes (seconds, not minutes): what the smoke test runs.
    rounds : int
        Timed rounds of every interleaved comparison.
    torch : bool
        Include PyTorch when it is installed.
    emit : callable
        Where progress lines and finished tables are printed.
    """

    quick: bool = False
    rounds: int = 5
    torch: bool = True
    emit: Callable[[str], None] = print


@dataclass
class Table:
    """One result table.

    Parameters
    ----------
    title : str
        Heading.
    columns : list of str
        Column names.
    rows : list of list of str
        Cells, already formatted.
    note : str
        A sentence printed under the table.
    """

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""

    def text(self) -> str:
        """Render as aligned plain text for the terminal.

        Returns
        -------
        str
            The table, its title above and its note below.
        """
        cells = [self.columns, *self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        lines = [f"== {self.title}"]
        for k, row in enumerate(cells):
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
            if k == 0:
                lines.append("  ".join("-" * w for w in widths))
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def markdown(self) -> str:
        """Render as a GitHub-flavoured Markdown table.

        Returns
        -------
        str
            A level-3 heading, the table and the note.
        """
        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "|".join(" --- " for _ in self.columns) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines)


@dataclass
class SectionResult:
    """What one section measured.

    Parameters
    ----------
    name : str
        The section's ``--only`` name.
    tables : list of Table
        Its tables, in print order.
    metrics : dict
        Named numbers (medians of per-round ratios, ...) that the targets
        table reads, e.g. ``"mnist-like/float32/ensemblekit/sklearn"``.
    """

    name: str
    tables: list[Table] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Spread:
    """Median, minimum and maximum of per-round values.

    Parameters
    ----------
    median, low, high : float
        The statistics.
    """

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Summarise ``values``.

        Parameters
        ----------
        values : sequence of float
            One value per round; at least one.

        Returns
        -------
        Spread
            Their median, minimum and maximum.
        """
        if not values:
            raise ValueError("no values to summarise: run at least one round.")
        return cls(statistics.median(values), min(values), max(values))

    def fmt(self, spec: str = ".3g", unit: str = "") -> str:
        """Format as ``median [min-max]``.

        Parameters
        ----------
        spec : str
            Format spec of each number.
        unit : str
            Appended to the median (``"x"`` for ratios).

        Returns
        -------
        str
            E.g. ``"0.41x [0.39-0.44]"``.
        """
        return (f"{self.median:{spec}}{unit} [{self.low:{spec}}\u2013"
                f"{self.high:{spec}}]")


def per_round_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> Spread:
    """Ratios taken within each round, then summarised.

    Parameters
    ----------
    numerator, denominator : sequence of float
        Per-round times of two contenders, aligned by round.

    Returns
    -------
    Spread
        Median, minimum and maximum of ``numerator[r] / denominator[r]``.
    """
    return Spread.of([a / b for a, b in zip(numerator, denominator)])
