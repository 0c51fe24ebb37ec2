"""The ``ensemblekit`` command line, end to end, on sklearn's bundled data as CSV."""

from __future__ import annotations

import io
import json
import pickle
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.metrics import accuracy_score, r2_score

import ensemblekit
from ensemblekit.cli import cli

TINY = ["--hidden", "8", "--max-iter", "20", "-q"]


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """CSV files of bundled data, a CSV with strings and missing values, models."""
    root = tmp_path_factory.mktemp("cli")
    iris = load_iris(as_frame=True)
    frame = iris.frame.rename(columns={"target": "species"})
    frame["species"] = iris.target_names[iris.target]
    frame.to_csv(root / "iris.csv", index=False)
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(root / "diabetes.csv",
                                                            index=False)
    load_digits(as_frame=True).frame.iloc[:300].to_csv(root / "digits.csv", index=False)
    rng = np.random.default_rng(0)
    n = 160
    shop = pd.DataFrame({
        "city": rng.choice(["paris", "rome", "oslo"], n),
        "age": rng.integers(18, 80, n).astype(float),
        "member": rng.choice([True, False], n),
        "income": rng.normal(50, 10, n),
    })
    shop["bought"] = np.where((shop.city == "paris") | (shop.income > 55), "yes", "no")
    shop.loc[::9, "city"] = None
    shop.loc[::7, "age"] = np.nan
    shop.to_csv(root / "shop.csv", index=False)
    paths = {name: root / f"{name}.csv" for name in ("iris", "diabetes", "digits", "shop")}
    run("train", paths["iris"], "--target", "species", "--out", root / "iris.ekm", *TINY,
        "--plugin", "dropout:rate=0.1", "--early-stopping")
    run("train", paths["diabetes"], "--out", root / "diabetes.ekm", *TINY,
        "--solver", "lbfgs")
    run("train", paths["shop"], "--target", "bought", "--out", root / "shop.ekm", *TINY)
    paths.update({f"{name}_model": root / f"{name}.ekm"
                  for name in ("iris", "diabetes", "shop")})
    paths["root"] = root
    return paths


def _read_predictions(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------
def test_train_without_data_uses_the_bundled_digits():
    result = run("train", "--hidden", "8", "--max-iter", "3")
    assert "digits (bundled), 1797 rows x 64 features" in result.stdout
    assert "classification of 'target', 10 classes" in result.stdout
    assert "test      360 rows  accuracy" in result.stdout


def test_train_summary_names_data_task_and_scores(files):
    result = run("train", files["diabetes"], "--hidden", "4", "--max-iter", "5",
                 "--test-size", "0.25")
    out = result.stdout
    assert "442 rows x 10 features (10 numeric, 0 categorical)" in out
    assert "regression of 'target'" in out
    assert "test      111 rows  R²" in out
    assert "reached" in result.stderr  # the ConvergenceWarning, shown as one line


def test_train_reads_strings_and_missing_values(files):
    result = run("train", files["shop"], "--target", "bought", "--hidden", "8",
                 "--max-iter", "5", "--test-size", "0")
    assert "(2 numeric, 2 categorical)" in result.stdout
    assert "test" not in result.stdout.split("epochs:")[1]


def test_missing_targets_are_dropped_and_reported(files, tmp_path):
    frame = pd.read_csv(files["iris"])
    frame.loc[:4, "species"] = np.nan
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    result = run("train", tmp_path / "gaps.csv", "--target", "species", "--hidden", "4",
                 "--max-iter", "2")
    assert "145 rows" in result.stdout and "5 rows without a target dropped" in result.stdout


def test_plugins_and_estimator_options_reach_the_model(files, tmp_path):
    out = tmp_path / "m.ekm"
    run("train", files["digits"], "--out", out, "--hidden", "6,5", "--max-iter", "4",
        "--solver", "rmsprop", "--batch-norm", "--weight-init", "he", "--dtype", "float32",
        "--plugin", "dropout:rate=0.25,mode='book'", "--plugin", "weight_decay:alpha=1e-3",
        "--batch-size", "32", "-q")
    mlp = ensemblekit.load(out)[-1]
    assert mlp.hidden_layer_sizes == (6, 5) and mlp.solver == "rmsprop"
    assert mlp.batch_norm and mlp.weight_init == "he" and mlp.batch_size == 32
    assert mlp.coefs_[0].dtype == np.float32
    assert [(n, p.get_params()) for n, p in mlp.plugins_] == [
        ("dropout", {"rate": 0.25, "mode": "book"}),
        ("weight_decay", {"alpha": 0.001, "convention": "sklearn"})]


def test_stopping_rule_options_reach_the_model_and_train_every_epoch(files, tmp_path):
    out = tmp_path / "m.ekm"
    run("train", files["iris"], "--target", "species", "--out", out, "--hidden", "4",
        "--max-iter", "40", "--n-iter-no-change", "40", "--tol", "0.5", "-q")
    mlp = ensemblekit.load(out)[-1]
    assert (mlp.n_iter_no_change, mlp.tol) == (40, 0.5)
    assert mlp.n_iter_ == 40  # no improvement of 0.5 for 40 epochs never stops it early
    early = tmp_path / "early.ekm"
    run("train", files["iris"], "--target", "species", "--out", early, "--hidden", "4",
        "--max-iter", "40", "--n-iter-no-change", "2", "--tol", "0.5", "-q")
    assert ensemblekit.load(early)[-1].n_iter_ < 40


def test_verbose_prints_epochs_and_quiet_prints_nothing(files):
    verbose = run("train", files["iris"], "--target", "species", "--hidden", "4",
                  "--max-iter", "3", "-v")
    assert [line.split()[:2] for line in verbose.stderr.splitlines()
            if line.startswith("epoch ")] == [["epoch", "1/3"], ["epoch", "2/3"],
                                               ["epoch", "3/3"]]
    quiet = run("train", files["iris"], "--target", "species", "--hidden", "4",
                "--max-iter", "3", "-q")
    assert quiet.output == ""


def test_config_file_sets_options_and_command_line_wins(files, tmp_path):
    config = tmp_path / "train.toml"
    config.write_text('target = "species"\nhidden = [7, 3]\nmax-iter = 4\nquiet = true\n'
                      '[plugin.dropout]\nrate = 0.2\n')
    out = tmp_path / "m.ekm"
    run("train", files["iris"], "--config", config, "--out", out, "--max-iter", "2")
    mlp = ensemblekit.load(out)[-1]
    assert mlp.hidden_layer_sizes == (7, 3) and mlp.max_iter == 2
    assert mlp.plugins[0].rate == 0.2


def test_yaml_config(files, tmp_path):
    pytest.importorskip("yaml")
    config = tmp_path / "train.yaml"
    config.write_text("target: species\nhidden: 5\nmax_iter: 2\nplugin: ['dropout:rate=0.3']\n")
    run("train", files["iris"], "--config", config, "--out", tmp_path / "m.ekm", "-q")
    assert ensemblekit.load(tmp_path / "m.ekm")[-1].plugins[0].rate == 0.3


# --------------------------------------------------------------------------
# predict / evaluate: the same numbers as the Python API
# --------------------------------------------------------------------------
def test_predict_matches_the_python_api(files):
    for name, target in (("iris", "species"), ("diabetes", "target")):
        model = ensemblekit.load(files[f"{name}_model"])
        frame = pd.read_csv(files[name])
        expected = model.predict(frame.drop(columns=target))
        got = _read_predictions(run("predict", files[f"{name}_model"], files[name]).stdout)
        assert list(got.columns) == [target]
        if name == "diabetes":  # printed at the float32 model's precision: read as float32
            np.testing.assert_array_equal(got[target].to_numpy().astype(expected.dtype),
                                          expected)
        else:
            np.testing.assert_array_equal(got[target].to_numpy(dtype=object), expected)


def test_predict_on_strings_and_missing_values_matches_the_python_api(files):
    model = ensemblekit.load(files["shop_model"])
    frame = pd.read_csv(files["shop"]).drop(columns="bought")
    frame = frame.astype({"city": object, "member": str})  # categories are text
    got = _read_predictions(run("predict", files["shop_model"], files["shop"]).stdout)
    np.testing.assert_array_equal(got["bought"].to_numpy(dtype=object), model.predict(frame))


def test_predict_proba_and_out_file(files, tmp_path):
    out = tmp_path / "pred.csv"
    result = run("predict", files["iris_model"], files["iris"], "--proba", "--out", out)
    assert result.stdout == ""
    got = pd.read_csv(out)
    assert list(got.columns) == ["species", "proba_setosa", "proba_versicolor",
                                 "proba_virginica"]
    model = ensemblekit.load(files["iris_model"])
    expected = model.predict_proba(pd.read_csv(files["iris"]).drop(columns="species"))
    np.testing.assert_array_equal(got.iloc[:, 1:].to_numpy().astype(expected.dtype), expected)


def test_predict_with_a_model_saved_from_python(files, tmp_path):
    frame = pd.read_csv(files["diabetes"])
    X = frame.drop(columns="target")
    reg = ensemblekit.MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5,
                                   random_state=0).fit(X, frame["target"])
    ensemblekit.save(reg, tmp_path / "reg.ekm")
    got = _read_predictions(run("predict", tmp_path / "reg.ekm", files["diabetes"]).stdout)
    np.testing.assert_array_equal(got["prediction"].to_numpy(), reg.predict(X))


def test_evaluate_json_for_a_classifier(files):
    metrics = json.loads(run("evaluate", files["iris_model"], files["iris"], "--json").stdout)
    frame = pd.read_csv(files["iris"])
    pred = ensemblekit.load(files["iris_model"]).predict(frame.drop(columns="species"))
    assert metrics["accuracy"] == pytest.approx(accuracy_score(frame["species"], pred))
    assert metrics["labels"] == ["setosa", "versicolor", "virginica"]
    assert np.sum(metrics["confusion_matrix"]) == metrics["n_samples"] == 150
    assert 0 <= metrics["ece"] <= 1 and metrics["log_loss"] > 0
    assert 0 <= metrics["f1_macro"] <= 1


def test_evaluate_json_for_a_regressor_and_plain_text(files):
    metrics = json.loads(run("evaluate", files["diabetes_model"], files["diabetes"],
                             "--json").stdout)
    frame = pd.read_csv(files["diabetes"])
    pred = ensemblekit.load(files["diabetes_model"]).predict(frame.drop(columns="target"))
    assert metrics["r2"] == pytest.approx(r2_score(frame["target"], pred))
    assert metrics["rmse"] == pytest.approx(np.sqrt(np.mean((frame["target"] - pred) ** 2)))
    text = run("evaluate", files["iris_model"], files["iris"]).stdout
    assert "accuracy:" in text and "confusion matrix" in text and "virginica" in text


# --------------------------------------------------------------------------
# plugins / report
# --------------------------------------------------------------------------
def test_version():
    assert run("--version").stdout.strip() == f"ensemblekit, version {ensemblekit.__version__}"


def test_plugins_lists_builtins_with_their_hooks():
    listing = json.loads(run("plugins", "--json").stdout)
    by_name = {row["name"]: row for row in listing["plugins"]}
    assert by_name["dropout"]["distribution"] == "ensemblekit"
    assert by_name["dropout"]["version"] == ensemblekit.__version__
    assert "ensemblekit_forward_hidden" in by_name["dropout"]["hooks"]
    assert isinstance(listing["failures"], list)
    assert "weight_decay" in run("plugins").stdout


def test_report_writes_plots_and_a_page(files, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    run("report", files["iris_model"], "--out", out, "--data", files["iris"])
    for png in ("loss.png", "validation.png", "confusion.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "index.md").read_text()
    assert "![Confusion matrix](confusion.png)" in page and "| test |" in page
    run("report", files["diabetes_model"], "--out", tmp_path / "r2")
    assert sorted(p.name for p in (tmp_path / "r2").iterdir()) == ["index.md", "loss.png"]


# --------------------------------------------------------------------------
# errors: exit code and one clear line
# --------------------------------------------------------------------------
def _error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    return lines[-1]


@pytest.mark.parametrize("make, args, code, message", [
    (None, ["train", "{root}/nope.csv"], 1, "data file not found: "),
    (b"", ["train", "{file}"], 1, "is empty"),
    (b"a,b\n", ["train", "{file}", "-t", "a"], 1, "has no data rows"),
    (b"\xff\xfe\x00", ["train", "{file}", "-t", "a"], 1, "cannot read"),
    (None, ["train", "{iris}", "-t", "specis"], 1, "did you mean 'species'?"),
    (None, ["train", "{iris}"], 2, "name the target column with --target"),
    (b"x,y\n1,a\n2,a\n3,a\n", ["train", "{file}", "-t", "y"], 1, "has a single class"),
    (None, ["train", "{iris}", "-t", "species", "--task", "regression"], 1,
     "'species' is not numeric"),
    (None, ["train", "{iris}", "-t", "species", "--plugin", "dropuot"], 1,
     "unknown plugin 'dropuot': did you mean 'dropout'?"),
    (None, ["train", "{iris}", "-t", "species", "--plugin", "dropout:rat=0.1"], 1,
     "plugin 'dropout' has no parameter 'rat'"),
    (None, ["train", "{iris}", "-t", "species", "--plugin", "dropout:rate=1.5"], 1,
     "The 'rate' parameter of Dropout must be"),
    (None, ["train", "{iris}", "-t", "species", "--plugin", "dropout:rate"], 2,
     "expected NAME:KEY=VALUE"),
    (None, ["train", "{iris}", "-t", "species", "--plugin", "dropout:rate=__import__('os')"],
     1, "must be a float"),
    (None, ["train", "--hidden", "10,x"], 2, "expected positive integers"),
    (None, ["train", "--plugin", "dropout:rate=0.1", "--plugin", "dropout:rate=0.2"], 2,
     "Invalid value for --plugin: dropout given more than once; give each plugin once"),
    (None, ["train", "--out", ""], 2, "Invalid value for --out: an empty file name"),
    (None, ["train", "--batch-size", "0"], 2, "positive integer or 'auto'"),
    (None, ["train", "--weight-init", "zeros"], 2, "glorot, he, xavier"),
    (b"hiden = 3\n", ["train", "--config", "{file}"], 1, "unknown setting 'hiden'; did you "
     "mean 'hidden'?"),
    (None, ["train", "--config", "{root}/nope.toml"], 1, "config file not found"),
    # a config value of the wrong type names the setting and the type it needs
    (b"batch-norm = 1\n", ["train", "--config", "{file}"], 1,
     "config file {file}: 'batch-norm' must be true or false, got 1"),
    (b"verbose = 2\n", ["train", "--config", "{file}"], 1,
     "'verbose' must be true or false, got 2"),
    (b"[plugin]\ndropout = 0.2\n", ["train", "--config", "{file}"], 1,
     "'plugin.dropout' must be a table of the plugin's parameters"),
    (b"plugin = 3\n", ["train", "--config", "{file}"], 1, "'plugin' must be a table of plugins"),
    (b"max-iter = [20]\n", ["train", "--config", "{file}"], 1,
     "'max-iter' must be an integer, got [20]"),
    (b"alpha = {a=1}\n", ["train", "--config", "{file}"], 1,
     "'alpha' must be a number, got {{'a': 1}}"),
    (b"activation = 3\n", ["train", "--config", "{file}"], 1,
     "'activation' must be one of relu, tanh, logistic, identity, got 3"),
    (b"target = [1]\n", ["train", "--config", "{file}"], 1,
     "'target' must be a string or a number, got [1]"),
    (b'hidden = ["a"]\n', ["train", "--config", "{file}"], 1,
     "'hidden' must be a list of positive integers"),
    (b'combiner = {weights = [1, 2]}\n', ["train", "--config", "{file}"], 1,
     "'combiner' must be a combiner name or a table with its name"),
    # seeds beyond numpy's range are refused by the option itself
    (None, ["train", "{iris}", "-t", "species", "--random-state", "5000000000"], 2,
     "Invalid value for '--random-state': 5000000000 is not in the range 0<=x<=4294967295"),
    (None, ["search", "{iris}", "-t", "species", "--param", "alpha=1e-5:1e-1:log",
            "--random-state", "-1"], 2, "Invalid value for '--random-state'"),
    (b"a,b\n0.5,1\n1.25,2\n3,1\n", ["train", "{file}", "-t", "a", "--task",
                                     "classification"], 1,
     "target column 'a' holds non-integer numbers (e.g. 0.5); classification needs labels: "
     "use --task regression"),
    # values whose square overflows float64 are named before scaling turns them into NaN
    (b"a,b,y\n1e300,1,0\n2,2,1\n3,1,0\n4,2,1\n", ["train", "{file}", "-t", "y"], 1,
     "column 'a' (up to 1e+300) holds values too large to scale and train on"),
    (b"a,b,y\n1e300,-1e200,0\n2,2,1\n3,1,0\n4,2,1\n",
     ["train", "{file}", "-t", "y", "--scale", "none"], 1,
     "columns 'a' (up to 1e+300), 'b' (up to 1e+200) hold values too large"),
    (b"a,b,y\ninf,1,0\n2,2,1\n3,1,0\n4,2,1\n", ["train", "{file}", "-t", "y"], 1,
     "column 'a' (up to inf) holds values too large"),
    (b"a,y\n1,1e300\n2,2.5\n3,1.5\n4,7.25\n", ["train", "{file}", "-t", "y"], 1,
     "target column 'y' (up to 1e+300) holds values too large"),
    # --out is checked before training: a missing folder, or the input itself
    (None, ["train", "{iris}", "-t", "species", "--out", "{root}/nodir/m.ekm"], 2,
     "Invalid value for --out: the folder of {root}/nodir/m.ekm does not exist"),
    (None, ["predict", "{iris_model}", "{iris}", "--out", "{root}/nodir/p.csv"], 2,
     "the folder of {root}/nodir/p.csv does not exist"),
    (None, ["predict", "{root}/nope.ekm", "{iris}"], 1, "model file not found"),
    (None, ["predict", "{iris}", "{iris}"], 1, "not an ensemblekit model file"),
    (None, ["predict", "{shop_model}", "{iris}"], 1,
     "lacks 4 column(s) the model needs: 'city', 'age', 'member', 'income'"),
    (b"city,age,member,income\nrome,old,True,3\n", ["predict", "{shop_model}", "{file}"], 1,
     "{file}: column 'age' holds 'old', which is not a number"),
    (None, ["predict", "{diabetes_model}", "{diabetes}", "--proba"], 2,
     "--proba needs a classifier"),
    (b"sepal length (cm),sepal width (cm),petal length (cm),petal width (cm),species\n"
     b"1,2,3,4,tulip\n", ["evaluate", "{iris_model}", "{file}"], 1,
     "labels the model never saw: tulip"),
    (None, ["evaluate", "{iris_model}", "{iris}", "-t", "kind"], 1,
     "target column 'kind' is not in"),
])
def test_user_errors(files, tmp_path, make, args, code, message):
    file = tmp_path / "data.csv"
    if args[:2] == ["train", "--config"]:
        file = tmp_path / "c.toml"
    if make is not None:
        file.write_bytes(make)
    names = {k: str(v) for k, v in files.items()} | {"file": str(file)}
    result = run(*[a.format(**names) for a in args], code=code)
    assert message.format(**names) in _error(result)


def _model_variant(files, tmp_path, kind: str) -> Path:
    src = files["iris_model"]
    bad = tmp_path / f"{kind}.ekm"
    if kind == "truncated":
        data = src.read_bytes()
        bad.write_bytes(data[: len(data) * 2 // 3])
    elif kind == "tampered":
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
            for item in zin.infolist():
                content = zin.read(item)
                if item.filename == "arrays.npz":
                    arrays = dict(np.load(io.BytesIO(content)))
                    key = next(k for k, a in arrays.items() if a.dtype.kind == "f")
                    arrays[key] = arrays[key] + 1
                    buffer = io.BytesIO()
                    np.savez(buffer, **arrays)
                    content = buffer.getvalue()
                zout.writestr(item.filename, content)
    elif kind == "future":
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
            doc = json.loads(zin.read("model.json"))
            doc["format_version"] = 2
            zout.writestr("model.json", json.dumps(doc))
            zout.writestr("arrays.npz", zin.read("arrays.npz"))
    return bad


@pytest.mark.parametrize("kind, message", [
    ("truncated", "is truncated or corrupted"),
    ("tampered", "arrays.npz does not match its SHA-256 digest"),
    ("future", "has model format version 2"),
])
def test_damaged_model_files(files, tmp_path, kind, message):
    bad = _model_variant(files, tmp_path, kind)
    for command in (["predict", bad, files["iris"]], ["evaluate", bad, files["iris"]],
                    ["report", bad, "--out", tmp_path / "r"]):
        assert message in _error(run(*command, code=1))


class _Booby:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_model_file_is_refused_unexecuted(files, tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "model.ekm"
    bad.write_bytes(pickle.dumps(_Booby(str(marker))))
    assert "is a pickle" in _error(run("predict", bad, files["iris"], code=1))
    assert not marker.exists()


def test_unexpected_errors_are_one_line_unless_debug(files, tmp_path, monkeypatch):
    import ensemblekit.cli.train as cli_module

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli_module, "save", refuse)
    out = tmp_path / "m.ekm"
    args = ["train", files["iris"], "-t", "species", "--out", out, *TINY]
    line = _error(run(*args, code=1))
    assert line.startswith("Error: PermissionError:") and "--debug" in line
    result = CliRunner().invoke(cli, ["--debug", *map(str, args)])
    assert isinstance(result.exception, PermissionError)
    assert not out.exists()


def test_out_must_not_be_the_input(files, tmp_path):
    data = tmp_path / "iris.csv"
    shutil.copy(files["iris"], data)
    before = data.read_bytes()
    line = _error(run("train", data, "-t", "species", "--out", data, *TINY, code=2))
    assert f"Invalid value for --out: {data} is the input file" in line
    # the same file under another spelling is the same file
    other = f"{tmp_path}/./iris.csv"
    run("predict", files["iris_model"], data, "--out", other, code=2)
    model = tmp_path / "m.ekm"
    shutil.copy(files["iris_model"], model)
    assert "is the input file" in _error(run("predict", model, data, "--out", model, code=2))
    assert data.read_bytes() == before
    assert model.read_bytes() == files["iris_model"].read_bytes()


def test_search_failure_shows_the_reason(files):
    line = _error(run("search", files["iris"], "-t", "species", "--hidden", "4",
                      "--max-iter", "3", "--param", "activation=relu2,tanh2", "--rounds", 1,
                      "--candidates", 2, "--top-k", 1, "--cv", 2, code=1))
    assert line.startswith("Error: All the 4 fits failed. InvalidParameterError: The "
                           "'activation' parameter of MLPClassifier must be")
    assert "Got 'relu2' instead." in line or "Got 'tanh2' instead." in line


def test_config_combiner_table_and_plugin_table(files, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('target = "species"\nhidden = [4]\nmax-iter = 3\nn-estimators = 2\n'
                      'combiner = {name = "weighted_mean", weights = [3, 1]}\n'
                      '[plugin.dropout]\nrate = 0.2\n')
    run("train", files["iris"], "--config", config, "-q", "--out", tmp_path / "m.ekm")
    ensemble = ensemblekit.load(tmp_path / "m.ekm")[-1]
    assert ensemble.combiner_.name == "weighted_mean"
    assert list(ensemble.combiner_.weights) == [3, 1]
    assert ensemble.estimator.plugins[0].rate == 0.2


def test_failed_write_keeps_the_previous_model(files, tmp_path):
    out = tmp_path / "m.ekm"
    out.write_bytes(b"previous")
    run("train", files["iris"], "-t", "species", "--out", out, "--hidden", "4",
        "--max-iter", "2", "--plugin", "dropout:rate=2", code=1)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ekm"]


# --------------------------------------------------------------------------
# the real console script
# --------------------------------------------------------------------------
def _console_script() -> str:
    local = Path(sys.executable).with_name("ensemblekit")
    found = str(local) if local.exists() else shutil.which("ensemblekit")
    if found is None:
        pytest.skip("the ensemblekit console script is not installed")
    return found


@pytest.mark.slow
def test_console_script_end_to_end(files, tmp_path):
    script = _console_script()
    model = tmp_path / "iris.ekm"
    train = subprocess.run(
        [script, "train", str(files["iris"]), "--target", "species", "--out", str(model),
         "--hidden", "6", "--max-iter", "10"],
        capture_output=True, text=True, timeout=120)
    assert train.returncode == 0, train.stderr
    assert f"model written to {model}" in train.stdout
    pred = subprocess.run([script, "predict", str(model), str(files["iris"])],
                          capture_output=True, text=True, timeout=120)
    assert pred.returncode == 0, pred.stderr
    frame = pd.read_csv(files["iris"])
    expected = ensemblekit.load(model).predict(frame.drop(columns="species"))
    np.testing.assert_array_equal(_read_predictions(pred.stdout)["species"].to_numpy(
        dtype=object), expected)
    bad = subprocess.run([script, "train", str(files["iris"]), "-t", "specis"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        f"Error: target column 'specis' is not in {files['iris']}: did you mean "
        "'species'?"]


def test_every_command_and_option_is_documented():
    page = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    missing = []
    for name in cli.list_commands(None):
        command = cli.get_command(None, name)
        if f"## `ensemblekit {name}" not in page:
            missing.append(name)
        for param in command.params:
            for opt in (*param.opts, *param.secondary_opts):
                if opt.startswith("-") and not re.search(rf"(?<![\w-]){opt}(?![\w-])", page):
                    missing.append(f"{name} {opt}")
    assert not missing, f"not in docs/cli.md: {missing}"


@pytest.mark.parametrize("scale, kind", [("maxabs", "MaxAbsScaler"),
                                         ("minmax", "MinMaxScaler"), ("none", None)])
def test_scale_option_chooses_the_saved_scaler(files, tmp_path, scale, kind):
    out = tmp_path / f"{scale}.ekm"
    run("train", files["digits"], *TINY, "--scale", scale, "--test-size", "0", "--out", out)
    model = ensemblekit.load(out)
    steps = model.named_steps["preprocess"].named_transformers_["numeric"].steps
    assert [type(step).__name__ for _, step in steps][1:] == ([kind] if kind else [])
    frame = pd.read_csv(files["digits"])
    printed = pd.read_csv(io.StringIO(run("predict", out, files["digits"]).output))
    np.testing.assert_array_equal(printed["target"],
                                  model.predict(frame.drop(columns=["target"])))
    if scale == "maxabs":  # trained on every row: pixels in [0, 1], blank columns stay 0
        Z = model[:-1].transform(frame.drop(columns=["target"]))
        assert Z.min() == 0 and Z.max() == 1


def test_a_closed_pipe_is_not_an_error(files):
    """``ensemblekit evaluate ... | head -1``: no traceback, no error, exit 0.

    ``head`` exits after the first line, so the later lines meet a closed pipe.
    """
    script = (f"{shutil.which('ensemblekit')} evaluate {files['root'] / 'iris.ekm'} "
              f"{files['iris']} | head -1")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rows: 150")
    assert done.stderr == ""


def test_the_data_summary_prints_before_training(files, monkeypatch):
    """Early feedback (issue 16): what was read shows before the wait for training."""
    from sklearn.pipeline import Pipeline

    def fail(*args, **kwargs):
        raise RuntimeError("training started")

    monkeypatch.setattr(Pipeline, "fit", fail)
    result = run("train", files["iris"], "-t", "species", *TINY[:-1], code=1)
    assert "data:   " in result.stdout and "task:   classification of 'species', 3 classes" \
        in result.stdout
    assert "training started" in result.output


def test_report_reads_a_semicolon_separated_data_file(files, tmp_path):
    """report --data takes --sep like predict and evaluate (issue 16)."""
    pytest.importorskip("matplotlib", reason="report draws with matplotlib")
    semicolons = tmp_path / "iris_semicolon.csv"
    pd.read_csv(files["iris"]).to_csv(semicolons, sep=";", index=False)
    out = tmp_path / "report"
    run("report", files["iris_model"], "--out", out, "--data", semicolons, "--sep", ";")
    assert (out / "confusion.png").exists()
