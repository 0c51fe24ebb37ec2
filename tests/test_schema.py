"""The column schema (issue 16): one model, the same predictions however the table is read.

The data is the CSV tutorial's own (``docs/tutorial-csv.md`` writes ``shop.csv``),
with two columns added for the dtype matrix: ``code``, text whose values are
mostly digits ("1", "2", "x"), and ``visits``, whole numbers.  A model trained
by ``ensemblekit train`` is compared row for row between ``ensemblekit predict``
and ``ensemblekit.load(...).predict_proba(table)`` for every way a column can be
read differently at prediction time.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.utils.estimator_checks import parametrize_with_checks

import ensemblekit
from ensemblekit.cli import cli
from ensemblekit.cli.data import split
from ensemblekit.config import build_model, check_settings
from ensemblekit.schema import ColumnSchema, SchemaError, SchemaWarning

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial-csv.md"


def run(*args: object, code: int = 0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def _tutorial_data(folder: Path) -> pd.DataFrame:
    """Run the tutorial's first Python block (it writes shop.csv) in ``folder``."""
    block = re.findall(r"^```python\n(.*?)^```", TUTORIAL.read_text(), flags=re.S | re.M)[0]
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        exec(compile(block, "tutorial-csv.md", "exec"), {})
    finally:
        os.chdir(cwd)
    return pd.read_csv(folder / "shop.csv")


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("schema")
    frame = _tutorial_data(root)
    rng = np.random.default_rng(1)
    bought = frame["bought"] == "yes"
    frame["code"] = np.where(bought, rng.choice(["1", "2"], len(frame)),
                             rng.choice(["2", "x"], len(frame)))
    frame["visits"] = rng.integers(0, 20, len(frame)) + bought * 5
    frame = frame[["city", "age", "member", "income", "code", "visits", "bought"]]
    csv = root / "shop.csv"
    frame.to_csv(csv, index=False)
    model_file = root / "shop.ekm"
    run("train", csv, "--target", "bought", "--hidden", "16", "--max-iter", "60",
        "--out", model_file, "-q")
    printed = run("predict", model_file, csv, "--proba").stdout
    predicted = pd.read_csv(io.StringIO(printed), dtype={"proba_no": np.float32,
                                                          "proba_yes": np.float32})
    return {"root": root, "csv": csv, "model_file": model_file,
            "model": ensemblekit.load(model_file), "cli": predicted}


def _read_proba(printed: str, dtype: type = np.float32) -> np.ndarray:
    """The probabilities ``predict`` printed, read at the model's precision."""
    columns = ["proba_no", "proba_yes"]
    return pd.read_csv(io.StringIO(printed), dtype=dict.fromkeys(columns, dtype))[
        columns].to_numpy()


def _cli_proba(shop: dict, path: Path, *more: str) -> np.ndarray:
    return _read_proba(run("predict", shop["model_file"], path, "--proba", *more).stdout)


def test_the_schema_is_in_the_model_file(shop):
    schema = shop["model"][0]
    assert isinstance(schema, ColumnSchema)
    assert schema.kinds_ == {"city": "text", "age": "numeric", "member": "boolean",
                             "income": "numeric", "code": "text", "visits": "numeric"}
    assert schema.categories_["member"] == ["False", "True"]
    assert schema.categories_["code"] == ["1", "2", "x"]


def test_pandas_read_csv_agrees_with_ensemblekit_predict_on_every_row(shop):
    """Issue 16's first case: pandas reads ``member`` as bool, the CLI gave text."""
    table = pd.read_csv(shop["csv"])
    assert table["member"].dtype == bool
    proba = shop["model"].predict_proba(table)
    np.testing.assert_array_equal(proba, shop["cli"][["proba_no", "proba_yes"]].to_numpy())
    assert (shop["model"].predict(table) == shop["cli"]["bought"].to_numpy()).all()


def _object_with_missing(column: pd.Series) -> pd.Series:
    return column.astype(object).where(column.notna(), None)


#: How a column can be read at prediction time, unlike in training.
VARIANTS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "bool as 'True'/'False' text": lambda f: f.assign(member=f.member.astype(str)),
    "bool as 'true'/'false' text": lambda f: f.assign(member=f.member.astype(str).str.lower()),
    "bool as 1/0 integers": lambda f: f.assign(member=f.member.astype(int)),
    "bool as object with a missing value": lambda f: f.assign(
        member=f.member.astype(object).where(f.index != 0, None)),
    "int as float": lambda f: f.assign(visits=f.visits.astype(float)),
    "int as text": lambda f: f.assign(visits=f.visits.astype(str)),
    "int as category": lambda f: f.assign(visits=f.visits.astype("category")),
    "float as text": lambda f: f.assign(age=f.age.astype(str).replace("nan", "")),
    "float as object with missing values": lambda f: f.assign(age=_object_with_missing(f.age)),
    "str as category": lambda f: f.assign(code=f.code.astype("category"),
                                          city=f.city.astype("category")),
    "str as object with missing values": lambda f: f.assign(city=_object_with_missing(f.city)),
    "columns in another order, extra columns": lambda f: f.iloc[:, ::-1].assign(extra=1),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_dtype_matrix_every_reading_gives_the_same_predictions(shop, variant):
    table = VARIANTS[variant](pd.read_csv(shop["csv"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SchemaWarning)  # every value maps to a seen one
        proba = shop["model"].predict_proba(table)
    expected = shop["cli"][["proba_no", "proba_yes"]].to_numpy()
    changed = 1 if "a missing value" in variant else 0  # row 0 lost its value
    np.testing.assert_array_equal(proba[changed:], expected[changed:])


def test_text_of_digits_read_as_floats_maps_back_to_its_categories(shop, tmp_path):
    """Issue 16's second case: one empty cell makes pandas read "1", "2" as 1.0, 2.0."""
    table = pd.read_csv(shop["csv"])
    digits = table[table.code != "x"].copy()
    expected = shop["cli"].loc[digits.index, ["proba_no", "proba_yes"]].to_numpy()
    digits.loc[digits.index[0], "code"] = None
    path = tmp_path / "digits.csv"
    digits.to_csv(path, index=False)
    read = pd.read_csv(path)
    assert read["code"].dtype == np.float64  # the trap: "1" is now 1.0
    by_python = shop["model"].predict_proba(read)
    by_cli = _cli_proba(shop, path)
    np.testing.assert_array_equal(by_python, by_cli)
    # the same rows in a table of another length: float32 products may round the
    # last bit differently (one float32 step, seen on an AMD EPYC's BLAS); the
    # bug this guards against moved a probability from 0.999 to 0.295
    np.testing.assert_allclose(by_python[1:], expected[1:], rtol=0, atol=1e-6)


def _with_unseen(shop: dict) -> pd.DataFrame:
    """The training table with categories it never held: 3 rows of code "y", 1 of city "Oslo"."""
    table = pd.read_csv(shop["csv"])
    table.loc[[3, 5, 7], "code"] = "y"
    table.loc[[5], "city"] = "Oslo"
    return table


def test_unseen_categories_warn_naming_column_value_and_rows(shop):
    table = _with_unseen(shop)
    with pytest.warns(SchemaWarning) as caught:
        proba = shop["model"].predict_proba(table)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "never seen in training" in message
    assert "column 'code': 'y' (3 rows)" in message
    assert "column 'city': 'Oslo' (1 row)" in message
    # the other rows are predicted as before (rows of a table of the same length)
    others = ~table.index.isin([3, 5, 7])
    expected = shop["cli"][["proba_no", "proba_yes"]].to_numpy()
    np.testing.assert_allclose(proba[others], expected[others], rtol=0, atol=1e-6)


def test_many_unseen_values_are_counted_not_all_listed(shop):
    table = pd.read_csv(shop["csv"]).iloc[:8].copy()
    table["code"] = [f"new{i}" for i in range(8)]
    with pytest.warns(SchemaWarning, match=r"'new0' \(1 row\).* and 3 more$"):
        shop["model"].predict(table)


def test_unseen_categories_are_one_line_in_predict_evaluate_and_train(shop, tmp_path):
    path = tmp_path / "unseen.csv"
    _with_unseen(shop).to_csv(path, index=False)
    line = (f"warning: {path}: categories never seen in training, encoded as none of "
            "their column's categories: column 'city': 'Oslo' (1 row); column 'code': "
            "'y' (3 rows)")
    for command in (["predict", shop["model_file"], path],
                    ["evaluate", shop["model_file"], path],
                    ["evaluate", shop["model_file"], path, "--importance"],
                    ["report", shop["model_file"], "--data", path, "-o", tmp_path / "report"]):
        result = CliRunner().invoke(cli, [str(a) for a in command])
        assert result.exit_code == 0, result.output
        assert result.stderr.splitlines() == [line], result.stderr  # once, however often
    # train: a category only the test split holds (the rows train's own split holds out)
    table = pd.read_csv(shop["csv"])
    held_out = split(table.drop(columns="bought"), table["bought"].to_numpy(),
                     "classification", 0.2, 0)[1].index[:2]
    table.loc[held_out, "code"] = "late"
    path = tmp_path / "late.csv"
    table.to_csv(path, index=False)
    args = ["train", str(path), "--target", "bought", "--hidden", "8", "--max-iter", "5"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if "never seen" in line] == [
        f"warning: {path} (test split): categories never seen in training, encoded as "
        "none of their column's categories: column 'code': 'late' (2 rows)"]
    assert "accuracy" in result.stdout
    quiet = CliRunner().invoke(cli, [*args, "-q"])
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")


def test_search_reports_the_test_splits_unseen_categories_not_each_folds(shop, tmp_path):
    """A category one cross-validation fold holds alone is the data's nature: no line per
    fold (nor raw warnings from the workers); the held-out test split's are one line."""
    table = pd.read_csv(shop["csv"])
    X, y = table.drop(columns="bought"), table["bought"].to_numpy()
    held_out = split(X, y, "classification", 0.2, 0)[1].index
    table.loc[held_out[:2], "code"] = "late"
    table.loc[table.index.difference(held_out)[0], "code"] = "rare"  # one fold only
    path = tmp_path / "search.csv"
    table.to_csv(path, index=False)
    proc = subprocess.run(
        [sys.executable, "-m", "ensemblekit", "search", str(path), "--target", "bought",
         "--hidden", "8", "--max-iter", "5", "--param", "alpha=1e-5:1e-2:log",
         "--rounds", "1", "--candidates", "3", "--n-jobs", "2"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        f"warning: {path} (test split): categories never seen in training, encoded as "
        "none of their column's categories: column 'code': 'late' (2 rows)"], proc.stderr
    assert "accuracy" in proc.stdout


@pytest.mark.parametrize("value, message", [
    ("inf", re.escape("column 'income' (up to inf) holds values too large to scale and "
                      "predict with in float64 (limit 1e+150)")),
    ("-1e200", re.escape("column 'income' (up to 1e+200) holds values too large to scale "
                         "and predict with in float64 (limit 1e+150)")),
    # fits float64 but not, once scaled, the float32 network
    ("1e60", r"column\(s\) 'income' \(up to [\d.]+e\+5\d once scaled\) hold values too "
             r"large for the model's float32 \(largest 3.4e\+38\); rescale them, or train "
             r"the model with --dtype float64"),
])
def test_numbers_too_large_to_predict_with_are_named_by_file_and_column(shop, tmp_path,
                                                                          value, message):
    table = pd.read_csv(shop["csv"]).astype({"income": object})
    table.loc[4, "income"] = value
    path = tmp_path / "large.csv"
    table.to_csv(path, index=False)
    expected = f"Error: {re.escape(str(path))}: {message}.*"
    proc = subprocess.run([sys.executable, "-m", "ensemblekit", "predict",
                           str(shop["model_file"]), str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    line, = proc.stderr.splitlines()  # no numpy warning, no traceback
    assert re.fullmatch(expected, line), line
    result = run("evaluate", shop["model_file"], path, code=1)
    assert re.fullmatch(expected, result.stderr.strip()), result.stderr


def test_a_numpy_array_in_training_order_gives_the_same_predictions(shop):
    table = pd.read_csv(shop["csv"]).drop(columns="bought")
    proba = shop["model"].predict_proba(table.to_numpy(dtype=object))
    np.testing.assert_array_equal(proba, shop["cli"][["proba_no", "proba_yes"]].to_numpy())


def test_parquet_and_polars_give_the_same_predictions(shop, tmp_path):
    pytest.importorskip("pyarrow")
    expected = shop["cli"][["proba_no", "proba_yes"]].to_numpy()
    parquet = tmp_path / "shop.parquet"
    pd.read_csv(shop["csv"]).to_parquet(parquet)
    np.testing.assert_array_equal(_cli_proba(shop, parquet), expected)
    np.testing.assert_array_equal(shop["model"].predict_proba(pd.read_parquet(parquet)),
                                  expected)
    polars = pytest.importorskip("polars")
    np.testing.assert_array_equal(shop["model"].predict_proba(polars.read_csv(shop["csv"])),
                                  expected)


def test_a_model_trained_from_python_on_other_dtypes_agrees_with_the_cli(shop, tmp_path):
    """Trained on categories and text booleans, predicted from the CSV as pandas reads it."""
    table = pd.read_csv(shop["csv"])
    X = table.drop(columns="bought").assign(
        city=table.city.astype("category"), member=table.member.astype(str),
        visits=table.visits.astype(float))
    settings = check_settings({"hidden": "8", "max_iter": 40})
    model = build_model("classification", settings, ["age", "income", "visits"],
                        ["city", "member", "code"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, table.bought)
    assert model[0].kinds_["city"] == "categorical"
    path = tmp_path / "python.ekm"
    ensemblekit.save(model, path, metadata={"target": "bought"})
    out = run("predict", path, shop["csv"], "--proba").stdout
    expected = ensemblekit.load(path).predict_proba(table)
    by_cli = _read_proba(out, expected.dtype.type)
    np.testing.assert_array_equal(expected, by_cli)
    np.testing.assert_array_equal(model.predict_proba(X), by_cli)


def test_values_that_do_not_fit_are_errors_naming_column_and_value(shop, tmp_path):
    table = pd.read_csv(shop["csv"])
    bad = table.assign(member=table.member.astype(str))
    bad.loc[3, "member"] = "maybe"
    with pytest.raises(SchemaError, match=r"column 'member' holds 'maybe'"):
        shop["model"].predict(bad)
    bad = table.assign(age=table.age.astype(str))
    bad.loc[5, "age"] = "forty"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    error = run("predict", shop["model_file"], path, code=1).output
    assert f"{path}: column 'age' holds 'forty', which is not a number" in error
    with pytest.raises(SchemaError, match="lacks 1 column.*'code'"):
        shop["model"].predict(table.drop(columns="code"))


def test_duplicate_column_names_are_refused(shop, tmp_path):
    """Issue 16's third case: pandas renames a second ``target`` to ``target.1``."""
    path = tmp_path / "twice.csv"
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 50)
    pd.DataFrame({"a": rng.normal(size=50), "t1": labels, "t2": labels}).to_csv(
        path, index=False, header=["a", "target", "target"])
    error = run("train", path, code=1).output
    assert "names column(s) 'target' more than once" in error
    error = run("predict", shop["model_file"], path, code=1).output
    assert "'target' more than once" in error
    frame = pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"])
    with pytest.raises(SchemaError, match="'a' more than once"):
        ColumnSchema().fit(frame)


def test_integers_of_30_digits_are_numbers_with_a_warning(tmp_path):
    rng = np.random.default_rng(0)
    big = [str(10**29 + int(v)) for v in rng.integers(0, 10**6, 60)]
    path = tmp_path / "big.csv"
    path.write_text("big,x,target\n" + "".join(
        f"{b},{x:.3f},{t}\n" for b, x, t in zip(big, rng.normal(size=60),
                                                rng.integers(0, 2, 60))))
    result = run("train", path, "--hidden", "4", "--max-iter", "5")
    assert "(2 numeric, 0 categorical)" in result.stdout
    assert re.search(r"warning: .*column\(s\) 'big' \(up to 30 digits\) hold integers too "
                     r"large for int64: used as numbers", result.stderr)
    with pytest.warns(SchemaWarning, match="'big'"):
        schema = ColumnSchema().fit(pd.read_csv(path))
    assert schema.kinds_["big"] == "numeric"


def test_the_cli_in_a_subprocess_agrees_with_python(shop):
    done = subprocess.run([sys.executable, "-m", "ensemblekit", "predict",
                           str(shop["model_file"]), str(shop["csv"]), "--proba"],
                          capture_output=True, text=True, timeout=120, check=True)
    by_cli = _read_proba(done.stdout)
    np.testing.assert_array_equal(
        shop["model"].predict_proba(pd.read_csv(shop["csv"])), by_cli)


@parametrize_with_checks([ColumnSchema()])
def test_column_schema_passes_scikit_learns_estimator_checks(estimator, check):
    check(estimator)
