"""``ensemblekit plugins`` and ``ensemblekit report``: what is installed, what a model learnt."""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any

import click

from ..plugins import (
    ENTRY_POINT_GROUP,
    entry_point_listing,
    env_flag,
    get_registry,
    plugin_role,
)
from . import common
from . import data as data_
from .report import write_report

__all__ = ["plugins", "report"]


def _plugin_rows() -> list[dict[str, Any]]:
    """One description per registered plugin, for ``plugins``."""
    registry = get_registry()
    rows = []
    for name in registry.names():
        cls = registry.plugins[name]
        hooks = sorted(h for h in dir(cls) if h.startswith("ensemblekit_"))
        dist, version = registry.sources[name]
        role = plugin_role(cls)
        rows.append({"name": name, "role": role, "distribution": dist, "version": version,
                     "class": f"{cls.__module__}.{cls.__qualname__}", "hooks": hooks,
                     "parameters": {k: _jsonable(v) for k, v in cls().get_params().items()}})
    return rows


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _not_loaded() -> list[dict[str, str]]:
    """Installed entry points that discovery skipped on purpose, and why."""
    registry = get_registry()
    loaded = {n for n, _ in registry.manager.list_name_plugin()} if registry.manager else set()
    failed = {f["name"] for f in registry.failures}
    allow = os.environ.get("ENSEMBLEKIT_LOAD_PLUGINS")
    reason = ("ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD is set"
              if env_flag("ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD")
              else f"not listed in ENSEMBLEKIT_LOAD_PLUGINS={allow}")
    skipped = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        module = ep.value.split(":")[0]
        if ep.name in loaded or module in loaded or ep.name in failed:
            continue
        dist = ep.dist.metadata["Name"] if ep.dist is not None else module
        skipped.append({"name": ep.name, "distribution": dist, "module": module,
                        "reason": reason})
    return skipped


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--all", "show_all", is_flag=True,
              help="Also show each plugin's hooks and class, and the installed plugins "
                   "that were not loaded (autoload off or not allowed) with the reason.")
@click.option("--no-import", "no_import", is_flag=True,
              help="List the installed entry points from their distributions' metadata "
                   "only, importing no plugin (names are entry-point names, not plugin "
                   "names; no roles or parameters).")
def plugins(as_json: bool, show_all: bool, no_import: bool) -> None:
    """List installed plugins, their role and parameters, and failures to load.

    Roles: training plugins go in --plugin; combiners, samplers and strategies
    in --combiner, --bootstrap and --strategy of an ensemble.
    """
    if no_import:
        entries = entry_point_listing()
        if as_json:
            click.echo(json.dumps({"entry_points": entries}, indent=2))
        for entry in [] if as_json else entries:
            source = f"{entry['distribution']} {entry['version']}"
            click.echo(f"{entry['name']:<18} {source:<27} {entry['module']}")
        return
    rows = _plugin_rows()
    failures = get_registry().failures
    skipped = _not_loaded() if show_all else []
    if as_json:
        listing = {"plugins": rows, "failures": failures}
        if show_all:
            listing["not_loaded"] = skipped
        click.echo(json.dumps(listing, indent=2))
        return
    for row in rows:
        params = ", ".join(f"{k}={v}" for k, v in row["parameters"].items()) or "-"
        source = f"{row['distribution']} {row['version']}"
        click.echo(f"{row['name']:<18} {row['role']:<9} {source:<27} {params}")
        if show_all:
            hooks = ", ".join(h[len("ensemblekit_"):] for h in row["hooks"])
            click.echo(f"{'':<18} {row['class']}; hooks: {hooks}")
    for failure in failures:
        click.echo(f"FAILED {failure['name']} from {failure['distribution']}: "
                   f"{failure['error']}")
    for entry in skipped:
        click.echo(f"NOT LOADED {entry['name']} from {entry['distribution']}: "
                   f"{entry['reason']}")


@click.command()
@click.argument("model_file", metavar="MODEL")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write the plots and index.md into.")
@click.option("--data", "data",
              help="CSV to score the model on: adds its scores, the permutation importance "
                   "of its columns, and a confusion matrix (classifier) or a "
                   "predicted-vs-actual plot (regressor).")
@click.option("--target", "-t", help="Target column of --data (default: the one trained on).")
@common.with_sep
def report(model_file: str, out_dir: str, data: str | None, target: str | None,
           sep: str | None) -> None:
    """Plot MODEL's learning curves (and scores on --data) into a folder.

    Writes loss.png, validation.png (when a validation score was recorded),
    and with --data importance.png (permutation importance), confusion.png
    (a classifier) or predicted.png (a regressor), and an index.md that shows
    them. Needs matplotlib: pip install 'ensemblekit[plot]'.
    """
    model, metadata = common.load_model(model_file)
    metrics = importance = predicted = None
    if data:
        scored = data_.scoring_table(model, metadata, data, target, sep)
        metrics = data_.score_table(model, scored)
        importance = data_.importance(model, scored)
        if scored.task == "regression":
            with data_.schema_errors(data):
                predicted = (scored.y, model.predict(scored.X))
    try:
        written = write_report(model, metadata, Path(out_dir), Path(model_file).name,
                               metrics, importance, predicted)
    except ImportError:  # matplotlib, drawn only here
        raise click.ClickException(
            "report needs matplotlib: pip install 'ensemblekit[plot]'") from None
    for path in written:
        click.echo(str(path))
