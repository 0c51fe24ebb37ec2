"""``ensemblekit export``: a model file as an ONNX graph, for serving without Python."""

from __future__ import annotations

import click

from ..exceptions import ModelFileError, OnnxExportError

__all__ = ["export"]


@click.command()
@click.argument("model_file", metavar="MODEL")
@click.option("--onnx", "onnx_path", required=True, type=click.Path(dir_okay=False),
              help="The ONNX file to write.")
@click.option("--no-uncertainty", is_flag=True,
              help="Leave out an ensemble's spread outputs (std, mutual information).")
def export(model_file: str, onnx_path: str, no_uncertainty: bool) -> None:
    """Write MODEL (a file of 'ensemblekit train') as an ONNX graph.

    The graph has one input per feature column, named after it: float32 for
    numeric columns (NaN for a missing value), strings for categorical ones
    (the empty string for a missing category).  ONNX Runtime's outputs agree
    with 'ensemblekit predict' to 1e-5.  Needs the onnx extra:
    pip install "ensemblekit[onnx]".
    """
    try:
        from ..onnx import export_model_file
    except ImportError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        export_model_file(model_file, onnx_path, uncertainty=not no_uncertainty)
    except (OnnxExportError, ModelFileError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {onnx_path}", err=True)
