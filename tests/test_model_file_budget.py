"""A model file from a stranger can neither exhaust memory nor plant code (issue 17).

Every file here is forged from a real fitted model, its digests recomputed as
an attacker would (:mod:`forge`), and loaded through :func:`ensemblekit.load`.
Peak memory is measured with ``tracemalloc``, which sees numpy's allocations.

* **One budget**: ``max_bytes`` bounds the bytes the archive's members
  decompress to *plus* the bytes every array and scalar of the file declares
  (itemsize x shape, at least one byte per element), counted before anything is
  allocated.
* **No raw exceptions**: numbers that overflow their dtype, integers of
  thousands of digits and JSON nested a thousand deep are ``ModelFileError``\\ s
  naming where in the document they are.
* **Parameters from a file are checked**: a cache folder (``Pipeline.memory``)
  and worker counts (``n_jobs``) are reset with a warning, callables refused.
* Duplicate arrays, a ``format_version`` that is not an int, and plugin
  parameters out of range are refused.
"""

from __future__ import annotations

import io
import json
import re
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pytest
from forge import craft, digested, digested_text, npy_header, npz, npz_members, peak_mib, read_parts
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.datasets import load_diabetes, load_iris
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit import (
    Dropout,
    EnsembleClassifier,
    MLPClassifier,
    MLPRegressor,
    ModelFileError,
    WeightDecay,
    load,
    save,
)
from ensemblekit import io as ek_io

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = 50  # MiB: refusing any hostile file here must stay below this


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def model(iris, tmp_path_factory) -> Path:
    """A real model file: an MLP with two plugins."""
    path = tmp_path_factory.mktemp("model") / "model.ekm"
    save(MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0,
                       plugins=[Dropout(0.1), WeightDecay(1e-3)]).fit(*iris), path)
    return path


@pytest.fixture
def parts(model):
    return read_parts(model)


def _first_array(document: dict) -> dict:
    return document["estimator"]["fitted"]["coefs_"][0]


def _refused_within(path: Path, match: str, bound: float = SMALL, **kwargs) -> float:
    def run():
        with pytest.raises(ModelFileError, match=match):
            load(path, **kwargs)
    peak = peak_mib(run)
    assert peak < bound, f"refusing {path.name} peaked at {peak:.1f} MiB"
    return peak


# --------------------------------------------------------------------------
# 1. one budget on declared bytes
# --------------------------------------------------------------------------
def _declare(parts, tmp_path: Path, dtype: str, shape: tuple[int, ...]) -> Path:
    """A file whose first array declares ``dtype`` and ``shape`` (header and document)."""
    document, arrays = parts
    members = npz_members(arrays)
    members[0] = ("a0.npy", npy_header(dtype, shape))
    _first_array(document).update(dtype=dtype, shape=list(shape))
    return craft(tmp_path / "declared.ekm", document, npz(members))


@pytest.mark.parametrize("shape, match", [
    # 10**10 elements of no bytes each: counted at one byte each, over the budget
    ((10**10,), r"array 'a0' declares <U0 \[10000000000\]: at least 10000000000 bytes"),
    # a shape within the budget: a zero-size dtype is refused outright (save never
    # writes one; numpy allocates 4 bytes an element for it)
    ((2**26,), r"array 'a0' has the zero-size dtype <U0"),
])
def test_zero_size_dtypes_with_huge_shapes_are_refused_before_allocating(
        parts, tmp_path, shape, match):
    path = _declare(parts, tmp_path, "<U0", shape)
    assert path.stat().st_size < 4096
    _refused_within(path, match)


def test_an_array_declaring_more_than_the_budget_is_refused_before_allocating(
        parts, tmp_path):
    path = _declare(parts, tmp_path, "<f8", (2**20, 2**20))
    _refused_within(path, r"declares <f8 \[1048576, 1048576\]: at least 8796093022208 "
                          r"bytes.*more than max_bytes=1073741824")


def test_an_array_whose_data_is_shorter_than_declared_is_refused_before_allocating(
        parts, tmp_path):
    # within the budget, but the member holds no data for 100 MiB of float64
    path = _declare(parts, tmp_path, "<f8", (100 << 17,))
    _refused_within(path, r"array 'a0' declares 104857600 bytes of data but holds 0")


@pytest.mark.parametrize("dtype", ["<U536870911", "<U100000000"])
def test_a_huge_scalar_dtype_is_refused_before_allocating(parts, tmp_path, dtype):
    document, arrays = parts
    document["metadata"] = {"note": {"$": "scalar", "dtype": dtype, "value": "a"}}
    path = craft(tmp_path / "scalar.ekm", document, arrays)
    assert path.stat().st_size < 4096
    _refused_within(path, rf"metadata\['note'\]: a scalar of dtype {dtype} takes "
                          rf"\d+ bytes.*max_bytes=", max_bytes=256 << 20)


def test_the_budget_is_one_sum_over_the_whole_file(parts, tmp_path):
    """Each scalar is small; together they are over the budget: refused early."""
    document, arrays = parts
    scalar = {"$": "scalar", "dtype": "<U100000", "value": "a"}  # 400 kB each
    document["metadata"] = {"notes": [scalar] * 200}  # 80 MB in all
    path = craft(tmp_path / "many.ekm", document, arrays)
    _refused_within(path, r"metadata\['notes'\]\[\d+\]: a scalar of dtype <U100000.*"
                          r"more than max_bytes=16777216", bound=24, max_bytes=16 << 20)
    load(path, max_bytes=1 << 30)  # the same file, under a budget raised for it


def test_the_budget_counts_the_arrays_and_can_be_raised(model, iris, tmp_path):
    X, y = iris
    path = tmp_path / "wide.ekm"
    # L-BFGS: the file holds the weights and no optimizer moments
    save(MLPClassifier(hidden_layer_sizes=(512, 512), solver="lbfgs", max_iter=1,
                       random_state=0).fit(X, y), path)
    weights = sum(a.nbytes for a in load(path).coefs_)
    assert weights > 2 << 20
    # the archive alone fits in the budget; with the arrays' declared bytes it does not
    with zipfile.ZipFile(path) as zf:
        archive = sum(info.file_size for info in zf.infolist())
    assert archive < weights + archive // 2 < 2 * archive
    with pytest.raises(ModelFileError, match=r"more than max_bytes=\d+.*Pass a larger "
                                             r"max_bytes to load a model this big"):
        load(path, max_bytes=archive + weights // 2)
    load(path, max_bytes=archive + 2 * weights)


#: JSON values that are cheap to write and dear to parse, each the worst of its kind
#: found (a value's Python object, its list slot, the decoder's copy and the digest's
#: re-serialisation): ``count`` of them.
PARSE_BOMBS: dict[str, Callable[[int], object]] = {
    "empty objects": lambda count: [{}] * count,
    "empty lists": lambda count: [[]] * count,
    "objects of one key": lambda count: [{"k": 0}] * count,
    "floats": lambda count: [0.5] * count,
    "short distinct strings": lambda count: [f"s{i}" for i in range(count)],
    "estimators": lambda count: [{"$": "estimator", "class": "ensemblekit.MLPClassifier",
                                  "params": {}, "fitted": {}}] * count,
    "one long string of 4-byte characters": lambda count: "\U0001F600" * count,
}


def _with_bomb(parts, tmp_path: Path, bomb: object) -> Path:
    """A file with ``bomb`` as its metadata, written as densely as JSON allows (no
    spaces, characters unescaped), its digests right."""
    document, arrays = parts
    document["metadata"] = {"bomb": bomb}
    text = json.dumps(digested(document, arrays), ensure_ascii=False, separators=(",", ":"))
    return craft(tmp_path / "bomb.ekm", document, arrays, text=text)


def _parse_cost(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return ek_io._parse_cost(zf.read("model.json"))[1]


def test_json_that_parses_into_gigabytes_is_refused_before_parsing(parts, tmp_path):
    """Found after issue 17: 40 million empty objects, a 133 kB file, made load() peak at
    8.4 GB for 2 minutes (the budget counted model.json's 120 MB of text, not what
    parsing it makes). Now the parse's bound is counted first."""
    path = _with_bomb(parts, tmp_path, [{}] * 4_000_000)
    assert path.stat().st_size < 100_000
    _refused_within(path, r"model.json \(\d+ bytes, up to 8\d{6} JSON values\) may take "
                          r"\d+ bytes to parse, more than max_bytes=1073741824")


@pytest.mark.parametrize("kind", list(PARSE_BOMBS))
def test_what_parsing_may_take_bounds_what_it_takes(parts, tmp_path, kind):
    """A document just inside the budget loads within it: the bound is an upper bound."""
    limit = 16 << 20
    per_value = (_parse_cost(_with_bomb(parts, tmp_path, PARSE_BOMBS[kind](1001)))
                 - _parse_cost(_with_bomb(parts, tmp_path, PARSE_BOMBS[kind](1)))) / 1000
    count = int(0.8 * limit / per_value)
    path = _with_bomb(parts, tmp_path, PARSE_BOMBS[kind](count))
    assert 0.7 * limit < _parse_cost(path) < 0.9 * limit
    loaded = []
    peak = peak_mib(lambda: loaded.append(load(path, max_bytes=limit, return_metadata=True)))
    assert len(loaded[0][1]["bomb"]) == count
    assert peak * 2**20 <= limit, f"{kind}: {peak:.1f} MiB, budget {limit >> 20} MiB"


# --------------------------------------------------------------------------
# 2. no raw exceptions: every failure names where it is
# --------------------------------------------------------------------------
def test_a_number_that_overflows_its_dtype_names_its_path(parts, tmp_path):
    document, arrays = parts
    document["estimator"]["params"]["hidden_layer_sizes"]["items"][0] = {
        "$": "scalar", "dtype": "<i8", "value": 1e30}
    path = craft(tmp_path / "overflow.ekm", document, arrays)
    with pytest.raises(ModelFileError, match=re.escape(
            "estimator(MLPClassifier).hidden_layer_sizes[0]: 1e+30 is not a valid <i8")):
        load(path)


def test_an_integer_of_thousands_of_digits_names_its_path(parts, tmp_path):
    document, arrays = parts
    document["estimator"]["params"]["hidden_layer_sizes"]["items"][0] = "@HUGE@"
    text = digested_text(document, arrays, '"@HUGE@"', "9" * 5000)
    path = craft(tmp_path / "digits.ekm", document, arrays, text=text)
    with pytest.raises(ModelFileError, match=re.escape(
            "estimator.params.hidden_layer_sizes.items[0] holds an integer of 5000 "
            "digits")):
        load(path)


def test_json_nested_a_thousand_deep_names_its_path(parts, tmp_path):
    document, arrays = parts
    document["metadata"] = {"deep": "@DEEP@"}
    text = digested_text(document, arrays, '"@DEEP@"', "[" * 1000 + "]" * 1000)
    path = craft(tmp_path / "deep.ekm", document, arrays, text=text)
    with pytest.raises(ModelFileError, match=re.escape(
            f"nests deeper than {ek_io.MAX_DEPTH} levels, at metadata.deep[0][0]")):
        load(path)


def test_real_model_files_are_far_from_the_depth_limit(iris, tmp_path):
    """The deepest file ensemblekit writes: an ensemble inside a target transformer."""
    X, y = load_diabetes(return_X_y=True)
    est = TransformedTargetRegressor(
        regressor=Pipeline([("scale", StandardScaler()),
                            ("mlp", MLPRegressor(hidden_layer_sizes=(3,), max_iter=2,
                                                 random_state=0, plugins=[Dropout(0.1)]))]),
        transformer=StandardScaler()).fit(X[:60], y[:60])
    path = tmp_path / "deep.ekm"
    save(est, path)

    def depth(value) -> int:
        children = (value.values() if isinstance(value, dict)
                    else value if isinstance(value, list) else ())
        return 1 + max(map(depth, children), default=0)

    assert depth(read_parts(path)[0]) < ek_io.MAX_DEPTH // 3
    load(path)


# --------------------------------------------------------------------------
# 3. parameters that name caches, paths, callables or resources
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pipeline_file(iris, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "pipeline.ekm"
    save(Pipeline([("scale", StandardScaler()),
                   ("mlp", MLPClassifier((4,), max_iter=3, random_state=0))]).fit(*iris),
         path)
    return path


def test_a_pipeline_cache_folder_from_a_file_is_never_used(pipeline_file, iris, tmp_path):
    """``memory`` is where a refit writes a joblib cache and later *unpickles* from."""
    cache = tmp_path / "planted-cache"
    document, arrays = read_parts(pipeline_file)
    document["estimator"]["params"]["memory"] = str(cache)
    path = craft(tmp_path / "memory.ekm", document, arrays)
    with pytest.warns(UserWarning, match=re.escape(
            "Pipeline parameter 'memory' from the file") + ".*reset to None"):
        loaded = load(path)
    assert loaded.memory is None
    loaded.fit(*iris)
    assert not cache.exists()


@pytest.mark.parametrize("edit, match", [
    (lambda p: p.update(func={"$": "builtin_type", "name": "object"}),
     "TransformedTargetRegressor parameter 'func' from the file .* must be None"),
    (lambda p: p.update(inverse_func={"$": "scalar_type", "dtype": "<f8"}),
     "TransformedTargetRegressor parameter 'inverse_func' from the file .* must be None"),
])
def test_callables_from_a_file_are_refused(edit, match, tmp_path):
    X, y = load_diabetes(return_X_y=True)
    save(TransformedTargetRegressor(
        MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0),
        transformer=StandardScaler()).fit(X[:60], y[:60]), tmp_path / "ttr.ekm")
    document, arrays = read_parts(tmp_path / "ttr.ekm")
    edit(document["estimator"]["params"])
    with pytest.raises(ModelFileError, match=match):
        load(craft(tmp_path / "bad.ekm", document, arrays))


def test_a_callable_anywhere_in_parameters_is_refused(tmp_path):
    save(Pipeline([("impute", SimpleImputer())]), tmp_path / "imputer.ekm")
    document, arrays = read_parts(tmp_path / "imputer.ekm")
    steps = document["estimator"]["params"]["steps"]
    steps[0]["items"][1]["params"]["strategy"] = {"$": "builtin_type", "name": "str"}
    with pytest.raises(ModelFileError, match=re.escape(
            "SimpleImputer parameter 'strategy' holds the callable str")):
        load(craft(tmp_path / "bad.ekm", document, arrays))


@pytest.mark.parametrize("make", [
    lambda: EnsembleClassifier(MLPClassifier((3,), max_iter=2), n_estimators=2),
    lambda: ColumnTransformer([("scale", StandardScaler(), [0, 1])]),
])
def test_worker_counts_from_a_file_are_reset(make, iris, tmp_path):
    est = make().fit(*iris)
    save(est, tmp_path / "jobs.ekm")
    document, arrays = read_parts(tmp_path / "jobs.ekm")
    document["estimator"]["params"]["n_jobs"] = 10**6
    with pytest.warns(UserWarning, match=re.escape(
            f"{type(est).__name__} parameter 'n_jobs' from the file (1000000)")):
        loaded = load(craft(tmp_path / "bad.ekm", document, arrays))
    assert loaded.n_jobs is None
    # what a user saves for this machine (None, -1, at most its cores) loads as it was
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n_jobs in (None, -1, 1, joblib.cpu_count()):
            save(make().set_params(n_jobs=n_jobs), tmp_path / "mine.ekm")
            assert load(tmp_path / "mine.ekm").n_jobs == n_jobs


def test_every_allowlisted_class_has_a_decision_on_its_parameters():
    assert set(ek_io._PARAMETER_RULES) == {spec.cls for spec in ek_io._BY_NAME.values()}


# --------------------------------------------------------------------------
# 4. duplicate arrays, the format version's type, plugin parameters
# --------------------------------------------------------------------------
def test_an_array_given_twice_inside_arrays_npz_is_refused(parts, tmp_path):
    document, arrays = parts
    members = npz_members(arrays)
    first = members[0]
    zeros = np.zeros_like(np.load(io.BytesIO(first[1])))
    buffer = io.BytesIO()
    np.save(buffer, zeros)
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = npz([*members, (first[0], buffer.getvalue())])
    with pytest.raises(ModelFileError, match=re.escape(
            "arrays.npz member 'a0.npy' appears more than once")):
        load(craft(tmp_path / "twice.ekm", document, data))


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_a_format_version_that_is_not_an_integer_is_refused(parts, tmp_path, version):
    document, arrays = parts
    document["format_version"] = version
    with pytest.raises(ModelFileError, match=re.escape(
            f"model format version {version!r}")):
        load(craft(tmp_path / "version.ekm", document, arrays))


@pytest.mark.parametrize("alpha", [-1e308, float("nan")])
def test_plugin_parameters_are_validated_on_load(parts, tmp_path, alpha):
    document, arrays = parts
    plugin = document["estimator"]["params"]["plugins"][1]
    assert plugin["name"] == "weight_decay"
    plugin["params"]["alpha"] = alpha
    with pytest.raises(ModelFileError, match=r"plugins\[1\]: plugin 'weight_decay' "
                                             r"rejects the stored parameters.*alpha"):
        load(craft(tmp_path / "alpha.ekm", document, arrays))


def test_the_budget_and_the_depth_limit_are_documented():
    page = (Path(__file__).parent.parent / "docs" / "reliability.md").read_text()
    assert "max_bytes" in page and f"{ek_io.MAX_DEPTH} levels" in page
    assert ek_io.MAX_BYTES == 1 << 30 and sys.getrecursionlimit() > ek_io.MAX_DEPTH
