"""``python -m ensemblekit``: the same command line as the ``ensemblekit`` script."""

from .cli import cli

if __name__ == "__main__":
    cli(prog_name="ensemblekit")
