"""Configurations of ``ensemblekit train`` that ship with the package.

``digits300.toml`` is the small-data recipe of the chapter-6 reproduction (the
first 300 digits for training): ``ensemblekit reproduce ensemble`` trains and
reports it, and ``examples/digits300.toml`` in the repository links here.
"""

from pathlib import Path

__all__ = ["RECIPES"]

#: Recipe name -> its TOML file.
RECIPES = {path.stem: path for path in sorted(Path(__file__).parent.glob("*.toml"))}
