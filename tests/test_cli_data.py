"""The command line's data handling (issue 16): errors found early and said clearly,
table formats by extension, and the options a data scientist reaches for first."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_diabetes, load_iris

import ensemblekit
from ensemblekit.cli import cli

TINY = ["--hidden", "8", "--max-iter", "20", "-q"]
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None


def run(*args: object, code: int = 0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def iris(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cli_data")
    data = load_iris(as_frame=True)
    frame = data.frame.rename(columns={"target": "species"})
    frame["species"] = data.target_names[data.target]
    frame.insert(0, "flower_id", [f"f{i:03d}" for i in range(len(frame))])
    csv = root / "iris.csv"
    frame.to_csv(csv, index=False)
    model = root / "iris.ekm"
    run("train", csv, "-t", "species", "--id", "flower_id", "--out", model, *TINY)
    return {"root": root, "csv": csv, "frame": frame, "model": model}


# --------------------------------------------------------------------------
# errors found late or unclear
# --------------------------------------------------------------------------
def test_a_class_with_one_row_is_kept_in_training(iris, tmp_path):
    frame = iris["frame"].drop(columns="flower_id")
    frame.loc[7, "species"] = "rare"
    path = tmp_path / "rare.csv"
    frame.to_csv(path, index=False)
    for seed in range(4):  # whatever the split, the row trains the model
        result = run("train", path, "-t", "species", "--test-size", "0.5",
                     "--random-state", seed, "--hidden", "4", "--max-iter", "5",
                     "--out", tmp_path / "m.ekm")
        assert "class(es) 'rare' have a single row: kept in training" in result.stderr
        rows = {line.split()[0]: int(line.split()[1]) for line in result.stdout.splitlines()
                if line.startswith(("train ", "test "))}
        assert rows["train"] + rows["test"] == 150 and rows["test"] >= 74
        assert "rare" in ensemblekit.load(tmp_path / "m.ekm")[-1].classes_


def test_empty_feature_columns_are_named_once(iris, tmp_path):
    frame = iris["frame"].drop(columns="flower_id").assign(notes=np.nan, extra=None)
    path = tmp_path / "empty.csv"
    frame.to_csv(path, index=False)
    result = run("train", path, "-t", "species", "--hidden", "4", "--max-iter", "5")
    assert result.stderr.count(f"warning: {path}: column(s) 'notes', 'extra' have no "
                               "values; not used as features") == 1
    assert "Skipping features" not in result.stderr
    assert "4 features (4 numeric, 0 categorical)" in result.stdout
    only = frame[["species", "notes", "extra"]]
    only.to_csv(path, index=False)
    error = run("train", path, "-t", "species", code=1).output
    assert f"{path}: every feature column is empty ('notes', 'extra')" in error


def test_validation_fraction_alone_monitors_without_stopping(iris, tmp_path):
    """Keras' validation_split: held out and scored every epoch, the last epoch kept."""
    out = tmp_path / "monitored.ekm"
    result = run("train", iris["csv"], "-t", "species", "--validation-fraction", "0.25",
                 "--hidden", "8", "--max-iter", "15", "--n-iter-no-change", "15",
                 "--out", out)
    network = ensemblekit.load(out)[-1]
    assert network.monitor_validation and not network.early_stopping
    assert network.validation_fraction == 0.25 and network.n_iter_ == 15
    scores = network.validation_scores_
    assert len(scores) == 15 and [r["val_score"] for r in network.history_] == scores
    best = int(np.argmax(scores))
    assert (f"validation accuracy {scores[-1]:.4f} at the last epoch, the one kept (best "
            f"{scores[best]:.4f} at epoch {best + 1})") in result.stdout
    # a plain run holds nothing out and records no validation score
    plain = run("train", iris["csv"], "-t", "species", *TINY[:-1], "--out", out)
    assert "validation accuracy" not in plain.stdout
    assert ensemblekit.load(out)[-1].validation_scores_ is None
    error = run("train", iris["csv"], "-t", "species", "--validation-fraction", "0.2",
                "--solver", "lbfgs", code=2).output
    assert "--solver lbfgs has no epochs" in error


def test_train_and_report_say_which_epoch_early_stopping_kept(iris, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason="report draws with matplotlib")
    from ensemblekit.cli import report as report_module

    out = tmp_path / "stopped.ekm"
    result = run("train", iris["csv"], "-t", "species", "--early-stopping",
                 "--learning-rate", "0.05", "--hidden", "8", "--n-iter-no-change", "3",
                 "--out", out)
    network = ensemblekit.load(out)[-1]
    scores = network.validation_scores_
    kept = int(np.argmax(scores)) + 1
    assert kept < network.n_iter_  # it stopped after the best epoch
    line = (f"early stopping kept epoch {kept} of {network.n_iter_} (best validation "
            f"accuracy {max(scores):.4f})")
    assert line in result.stdout
    legends = {}
    save = report_module._save

    def recording_save(fig, path):  # the plots' legends, as drawn
        legends[path.name] = fig.axes[0].get_legend_handles_labels()[1]
        return save(fig, path)

    monkeypatch.setattr(report_module, "_save", recording_save)
    run("report", out, "--out", tmp_path / "report")
    assert f"- {line}" in (tmp_path / "report" / "index.md").read_text()
    marker = f"epoch {kept}, kept by early stopping"
    assert legends["loss.png"] == ["loss", "val loss", marker]
    assert legends["validation.png"] == ["val score", marker]
    # monitored without early stopping: the validation plot, and no kept epoch
    run("train", iris["csv"], "-t", "species", "--validation-fraction", "0.2", *TINY,
        "--out", out)
    run("report", out, "--out", tmp_path / "monitored")
    assert legends["validation.png"] == ["val score"]
    assert legends["loss.png"] == ["loss", "val loss"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet", ".feather"])
def test_predict_writes_the_format_of_the_extension(iris, tmp_path, suffix):
    out = tmp_path / f"preds{suffix}"
    expected = pd.read_csv(io.StringIO(run("predict", iris["model"], iris["csv"]).stdout))
    if suffix in (".parquet", ".feather") and not HAS_PYARROW:
        error = run("predict", iris["model"], iris["csv"], "--out", out, code=1).output
        assert "files need pyarrow (pip install pyarrow)" in error
        assert not out.exists()
        return
    run("predict", iris["model"], iris["csv"], "--out", out)
    read = {".csv": pd.read_csv, ".tsv": lambda p: pd.read_csv(p, sep="\t"),
            ".jsonl": lambda p: pd.read_json(p, lines=True),
            ".parquet": pd.read_parquet, ".feather": pd.read_feather}[suffix]
    pd.testing.assert_frame_equal(read(out), expected, check_dtype=False)


def test_predict_refuses_an_unknown_output_extension(iris, tmp_path):
    error = run("predict", iris["model"], iris["csv"], "--out", tmp_path / "p.xlsx",
                code=2).output
    assert "cannot tell the format of" in error and ".parquet" in error


def test_tables_are_read_by_format(iris, tmp_path):
    expected = run("predict", iris["model"], iris["csv"]).stdout
    tsv = tmp_path / "iris.tsv"
    iris["frame"].to_csv(tsv, sep="\t", index=False)
    assert run("predict", iris["model"], tsv).stdout == expected
    jsonl = tmp_path / "iris.jsonl"
    iris["frame"].to_json(jsonl, orient="records", lines=True)
    assert run("predict", iris["model"], jsonl).stdout == expected
    feather = tmp_path / "iris.feather"
    if HAS_PYARROW:
        iris["frame"].to_feather(feather)
        assert run("predict", iris["model"], feather).stdout == expected
    else:  # the file's first bytes say Feather, whatever its name
        for name in ("iris.feather", "iris.data"):
            (tmp_path / name).write_bytes(b"ARROW1\x00\x00\xff\xfe binary")
            error = run("predict", iris["model"], tmp_path / name, code=1).output
            assert "Feather files need pyarrow" in error and "utf-8" not in error


def test_a_binary_file_with_a_csv_name_is_a_clear_error(iris, tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xff\xfe\x00binary")
    error = run("predict", iris["model"], path, code=1).output
    assert "it is not UTF-8 text" in error


# --------------------------------------------------------------------------
# day-one options
# --------------------------------------------------------------------------
def test_id_is_not_a_feature_and_comes_back_in_predict(iris):
    model = ensemblekit.load(iris["model"])
    assert "flower_id" not in model[0].columns_
    out = pd.read_csv(io.StringIO(run("predict", iris["model"], iris["csv"]).stdout))
    assert list(out.columns) == ["flower_id", "species"]
    assert out["flower_id"].tolist() == iris["frame"]["flower_id"].tolist()


def test_an_id_looking_column_is_warned_about_and_drop_removes_it(iris, tmp_path):
    result = run("train", iris["csv"], "-t", "species", "--hidden", "4", "--max-iter", "3")
    assert ("column 'flower_id' looks like an identifier (all 150 values differ); give "
            "--id flower_id") in result.stderr
    result = run("train", iris["csv"], "-t", "species", "--drop", "flower_id",
                 "--drop", "petal width (cm)", "--out", tmp_path / "m.ekm", *TINY)
    assert ensemblekit.load(tmp_path / "m.ekm")[0].columns_ == [
        "sepal length (cm)", "sepal width (cm)", "petal length (cm)"]
    error = run("train", iris["csv"], "-t", "species", "--drop", "petal_width",
                code=1).output
    assert "--drop column 'petal_width' is not in" in error and "did you mean" in error


def test_a_semicolon_file_names_the_separator(iris, tmp_path):
    path = tmp_path / "semi.csv"
    iris["frame"].to_csv(path, sep=";", index=False)
    error = run("train", path, "-t", "species", code=1).output
    assert "has a single column 'flower_id;sepal length (cm);" in error
    assert "it looks semicolon-separated; give --sep ';'" in error
    run("train", path, "-t", "species", "--sep", ";", "--drop", "flower_id", *TINY)
    expected = run("predict", iris["model"], iris["csv"]).stdout
    assert run("predict", iris["model"], path, "--sep", ";").stdout == expected
    assert run("evaluate", iris["model"], path, "--sep", ";", "--json").exit_code == 0
    assert "expected one character" in run("train", path, "--sep", ";;", code=2).output


def test_h_is_help():
    assert "Usage: cli train" in run("train", "-h").output
    assert "Commands:" in run("-h").output


def test_evaluate_prints_per_class_scores(iris):
    out = run("evaluate", iris["model"], iris["csv"]).stdout
    assert "per class:" in out
    header = next(line for line in out.splitlines() if "precision" in line)
    assert header.split() == ["precision", "recall", "f1", "support"]
    assert any(line.split()[0] == "setosa" and line.split()[-1] == "50"
               for line in out.splitlines())
    metrics = json.loads(run("evaluate", iris["model"], iris["csv"], "--json").stdout)
    assert set(metrics["per_class"]) == {"setosa", "versicolor", "virginica"}
    assert metrics["per_class"]["setosa"]["support"] == 50


def test_evaluate_importance_is_per_input_column_and_reproducible(tmp_path):
    """Permutation importance through the model's own pipeline, one entry per column."""
    from sklearn.inspection import permutation_importance

    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"city": rng.choice(["paris", "rome", "oslo"], n),
                          "noise": rng.normal(size=n), "income": rng.normal(50, 10, n)})
    frame["bought"] = np.where((frame.city == "paris") | (frame.income > 55), "yes", "no")
    path = tmp_path / "shop.csv"
    frame.to_csv(path, index=False)
    model_file = tmp_path / "shop.ekm"
    run("train", path, "-t", "bought", "--hidden", "16", "--max-iter", "60",
        "--learning-rate", "0.01", "--random-state", "3", "-q", "--out", model_file)
    args = ("evaluate", model_file, path, "--json", "--importance")
    metrics = json.loads(run(*args).stdout)
    assert json.loads(run(*args).stdout) == metrics  # seeded: the same numbers again
    found = metrics["importance"]
    assert set(found) == {"city", "noise", "income"}  # not the one-hot columns
    assert list(found)[-1] == "noise"  # most important first; noise matters least
    assert found["city"]["mean"] > 0.05 and found["income"]["mean"] > 0.05
    model = ensemblekit.load(model_file)
    X = frame.drop(columns="bought")
    expected = permutation_importance(model, X, frame["bought"].to_numpy(), n_repeats=5,
                                      random_state=3)  # the model's random state
    for i, column in enumerate(X.columns):
        assert found[column]["mean"] == pytest.approx(expected.importances_mean[i])
        assert found[column]["std"] == pytest.approx(expected.importances_std[i])
    text = run(*args[:-2], "--importance").stdout
    assert "permutation importance (drop of accuracy when the column is shuffled):" in text
    assert "importance" not in json.loads(run(*args[:-1]).stdout)


def test_evaluate_prints_mae_rmse_r2_for_a_regression(tmp_path):
    path = tmp_path / "diabetes.csv"
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(path, index=False)
    run("train", path, "--out", tmp_path / "d.ekm", *TINY)
    out = run("evaluate", tmp_path / "d.ekm", path).stdout
    assert [line.split(":")[0] for line in out.splitlines()] == ["rows", "R²", "RMSE", "MAE"]


def test_report_data_of_a_regression_through_the_console_script(tmp_path):
    """``ensemblekit report --data``: predicted vs actual and importance, as a user runs it."""
    pytest.importorskip("matplotlib", reason="report draws with matplotlib")
    script = shutil.which("ensemblekit")
    if script is None:
        pytest.skip("the ensemblekit console script is not installed")
    path = tmp_path / "diabetes.csv"
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(path, index=False)
    model = tmp_path / "d.ekm"
    for args in (["train", path, "--out", model, *TINY],
                 ["report", model, "--out", tmp_path / "report", "--data", path]):
        done = subprocess.run([script, *map(str, args)], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert written == ["importance.png", "index.md", "loss.png", "predicted.png"]
    page = (tmp_path / "report" / "index.md").read_text()
    assert "![Predicted vs actual](predicted.png)" in page
    rows = [line.split(" | ")[0].strip("| ") for line in page.splitlines()
            if line.startswith("| ") and line.count("|") == 4 and "column" not in line]
    assert sorted(rows) == sorted(load_diabetes().feature_names)


# --------------------------------------------------------------------------
# predictions at the model's precision; search lists; typos of the right role
# --------------------------------------------------------------------------
def _model_values(model_file, csv, columns) -> np.ndarray:
    model = ensemblekit.load(model_file)
    X = pd.read_csv(csv).drop(columns=["species", "flower_id"])
    return model.predict_proba(X)[:, :len(columns)]


def test_a_float32_model_prints_float32_precision_that_reads_back_exactly(iris, tmp_path):
    """0.87341, not 0.8734099864959717: read as float32, the model's very values."""
    out = run("predict", iris["model"], iris["csv"], "--proba").stdout
    columns = [c for c in out.splitlines()[0].split(",") if c.startswith("proba_")]
    expected = _model_values(iris["model"], iris["csv"], columns)
    assert expected.dtype == np.float32
    table = pd.read_csv(io.StringIO(out), dtype={c: np.float32 for c in columns})
    np.testing.assert_array_equal(table[columns].to_numpy(), expected)
    # every value is the shortest decimal of its float32: at most 9 significant digits
    text = pd.read_csv(io.StringIO(out), dtype=str)[columns].to_numpy().ravel()
    assert all(s == str(v) for s, v in zip(text, expected.ravel()))
    assert max(len(s.lstrip("0.").replace(".", "").split("e")[0]) for s in text) <= 9
    # JSON lines: the same decimals
    jsonl = tmp_path / "p.jsonl"
    run("predict", iris["model"], iris["csv"], "--proba", "--out", jsonl)
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    read = np.array([[r[c] for c in columns] for r in records], dtype=np.float32)
    np.testing.assert_array_equal(read, expected)


def test_a_float64_model_keeps_float64_precision(iris, tmp_path):
    model = tmp_path / "f64.ekm"
    run("train", iris["csv"], "-t", "species", "--id", "flower_id", "--dtype", "float64",
        "--out", model, *TINY)
    out = run("predict", model, iris["csv"], "--proba").stdout
    columns = [c for c in out.splitlines()[0].split(",") if c.startswith("proba_")]
    expected = _model_values(model, iris["csv"], columns)
    assert expected.dtype == np.float64
    table = pd.read_csv(io.StringIO(out))
    np.testing.assert_array_equal(table[columns].to_numpy(), expected)


def test_console_predict_writes_float32_precision(iris):
    import subprocess

    shown = subprocess.run(["ensemblekit", "predict", str(iris["model"]), str(iris["csv"]),
                            "--proba"], check=True, capture_output=True, text=True,
                           timeout=300).stdout
    columns = [c for c in shown.splitlines()[0].split(",") if c.startswith("proba_")]
    table = pd.read_csv(io.StringIO(shown), dtype={c: np.float32 for c in columns})
    np.testing.assert_array_equal(table[columns].to_numpy(),
                                  _model_values(iris["model"], iris["csv"], columns))


SEARCH = ["--param", "activation=relu,tanh", "--param", "hidden_layer_sizes=[4],[8]",
          "--rounds", "2", "--candidates", "3", "--top-k", "1", "--cv", "2",
          "--max-iter", "5", "-t", "species", "--drop", "flower_id"]


def test_search_prints_choices_as_lists(iris):
    out = run("search", iris["csv"], *SEARCH).stdout
    assert "activation ['relu', 'tanh']" in out and "hidden_layer_sizes [[4], [8]]" in out
    assert "{'relu'" not in out and "{'tanh'" not in out


def test_console_search_prints_lists(iris):
    import subprocess

    out = subprocess.run(["ensemblekit", "search", str(iris["csv"]), *SEARCH], check=True,
                         capture_output=True, text=True, timeout=300).stdout
    assert "activation ['relu', 'tanh']" in out and "{'" not in out.split("best:")[0]


@pytest.mark.parametrize("option, typo, right, wrong", [
    ("--plugin", "dropot", "'dropout'", "vote"),
    ("--strategy", "snapshto", "'snapshot'", "vote"),
    ("--combiner", "vot", "'vote'", "dropout"),
])
def test_a_typo_suggests_only_plugins_of_its_role(iris, option, typo, right, wrong):
    args = ["train", iris["csv"], "-t", "species", "--n-estimators", "2", option, typo, *TINY]
    error = run(*args, code=1).output
    assert f"did you mean {right}?" in error and wrong not in error.split("did you mean")[1]
    assert "strategys" not in error


def test_console_plugin_typo_suggests_a_training_plugin(iris):
    import subprocess

    proc = subprocess.run(["ensemblekit", "train", str(iris["csv"]), "-t", "species",
                           "--plugin", "vot", "-q"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert "installed training plugins are" in proc.stderr and "'vote'" not in proc.stderr
