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
    (the empty string for a missing category), spelt as the model's column
    schema writes them: the categories each takes are listed.  ONNX Runtime's
    outputs agree with 'ensemblekit predict' to 1e-5.  Needs the onnx extra:
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
    _echo_categories(model_file)


#: Categories listed per input by :func:`_echo_categories`.
SHOWN_CATEGORIES = 10


def _echo_categories(model_file: str) -> None:
    """Say which strings each categorical input takes: the graph cannot warn of others."""
    from sklearn.pipeline import Pipeline

    from ..io import load
    from ..schema import ColumnSchema

    model = load(model_file)
    schema = model[0] if isinstance(model, Pipeline) else None
    if not isinstance(schema, ColumnSchema) or not schema.categories_:
        return
    click.echo("categorical inputs take exactly these strings; any other is encoded as none "
               "of the column's categories, and ONNX Runtime cannot warn of it:", err=True)
    for name, categories in schema.categories_.items():
        more = (f", ... ({len(categories)} in all)" if len(categories) > SHOWN_CATEGORIES
                else "")
        click.echo(f"  {name}: {', '.join(categories[:SHOWN_CATEGORIES])}{more}", err=True)
