"""The docs' figures: drawn by one command, and drawn right (labelled axes, integer counts).

The figure functions of :mod:`ensemblekit.reproduce` draw from an experiment's
JSON-ready results; here they draw tiny results made up for the test, and the
matplotlib ``Figure`` objects are inspected (not pixels).  The PNG files in
``docs/chapter6`` are the ones ``results.json`` lists, and ``docs/make_figures.py``
is the one command that redraws every figure of the docs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the figures need matplotlib")

from ensemblekit import reproduce  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """Figures drawn by the reproduce module, kept instead of only written."""
    figures = {}

    def keep(fig, out, name):
        figures[name] = fig
        return f"{name}.png"

    monkeypatch.setattr(reproduce, "_save", keep)
    return figures


def _stats(values):
    return {"mean": values, "std": [0.0] * len(values)}


def test_init_activations_have_axis_labels(drawn, tmp_path):
    results = {"histogram_edges": [0.0, 1.0, 2.0],
               "activations": {"He": {"histogram": [[3, 1], [2, 2]]}},
               "epochs": [1, 2], "loss": {"He": _stats([2.0, 1.0])}}
    reproduce._draw_init(results, tmp_path)
    fig = drawn["init_activations"]
    assert "activation" in fig._supxlabel.get_text()
    assert "count" in fig._supylabel.get_text()


def test_networks_averaged_are_counted_in_whole_numbers(drawn, tmp_path):
    results = {"n_members": [1, 2, 3], "ensemble_test_accuracy": _stats([0.8, 0.85, 0.86]),
               "member_test_accuracy": {"mean": 0.8, "std": 0.01}}
    reproduce._draw_ensemble(results, tmp_path)
    ax = drawn["ensemble"].axes[0]
    ax.figure.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert ax.get_xlabel() == "networks averaged"


def _search_results():
    ranges = {"learning_rate_init": [1e-6, 1e-2, "log"],
              "plugins__weight_decay__alpha": [1e-8, 1e-4, "log"]}
    trial = {"learning_rate_init": [1e-3, 1e-4, 5e-3, 8e-3],
             "weight_decay_lambda": [1e-6, 1e-7, 1e-5, 1e-6],
             "validation_accuracy": [0.5, 0.2, 0.8, 0.9]}
    return {"settings": {"budget": 4, "coarse_to_fine": {"n_candidates": 2}},
            "trials_seed0": {"random": trial,
                             "coarse_to_fine": {**trial, "round": [0, 0, 1, 1],
                                                "ranges": [ranges, ranges]}}}


def test_search_axes_have_readable_names_and_rounds_count_from_one(drawn, tmp_path):
    reproduce._draw_search(_search_results(), tmp_path)
    labels = [label for fig in (drawn["search"], drawn["search_rounds"]) for ax in fig.axes
              for label in (ax.get_xlabel(), ax.get_ylabel()) if label]
    assert "learning rate" in labels and "weight decay λ" in labels
    assert not [label for label in labels if "__" in label], labels
    rounds = drawn["search_rounds"].axes[0]
    assert [t.get_text() for t in rounds.get_xticklabels()] == ["1", "2"]


def test_batch_norm_panels_say_where_the_plain_network_diverged(drawn, tmp_path):
    run = {"train_accuracy": _stats([0.5, 0.9]), "final_train_accuracy": {"mean": 0.9, "std": 0.0}}
    diverged = {"train_accuracy": _stats([None, None]),
                "final_train_accuracy": {"mean": None, "std": None}, "diverged_seeds": 2}
    results = {"settings": {"seeds": 2, "epochs": 2}, "scales": [1.0, 0.01], "epochs": [1, 2],
               "plain": [diverged, {**run, "diverged_seeds": 0}],
               "batch_norm": [{**run, "diverged_seeds": 0}] * 2}
    reproduce._draw_batch_norm(results, tmp_path)
    titles = [ax.get_title() for ax in drawn["batch_norm"].axes if ax.get_visible()]
    assert titles[0] == "init std 1\nplain diverged (2/2 seeds)"
    assert titles[1] == "init std 0.01"
    final = drawn["batch_norm_final"].axes[0]
    assert "plain diverged" in [t.get_text() for t in final.get_legend().get_texts()]


def test_the_chapter6_outputs_are_what_the_generator_writes():
    """summary.txt is rendered from results.json; the PNGs are those results.json lists."""
    folder = DOCS / "chapter6"
    results = json.loads((folder / "results.json").read_text())
    assert (folder / "summary.txt").read_text() == reproduce.summary_markdown(results)
    listed = {name for result in results.values() for name in result["figures"]}
    assert listed == {p.name for p in folder.glob("*.png")}
    assert set(results) == set(reproduce.EXPERIMENTS)


def test_redraw_draws_every_figure_from_results_json(tmp_path):
    (tmp_path / "results.json").write_text((DOCS / "chapter6" / "results.json").read_text())
    written = reproduce.redraw(tmp_path)
    assert {n for names in written.values() for n in names} == \
        {p.name for p in (DOCS / "chapter6").glob("*.png")}
    assert all((tmp_path / n).stat().st_size > 0 for names in written.values() for n in names)


def test_one_command_draws_the_docs_figures():
    """docs/make_figures.py covers every folder of figures the pages show."""
    script = (DOCS / "make_figures.py").read_text()
    shown = {Path(p).parent.as_posix() for page in DOCS.rglob("*.md")
             for p in re.findall(r"!\[[^]]*\]\(([^)]+\.png)\)", page.read_text())}
    assert shown == {"chapter6", "images/ensembles", "images/tutorial-csv"}, shown
    for part in ("redraw(", "make_plots.py", "ensemblekit\", \"report"):
        assert part in script, part
