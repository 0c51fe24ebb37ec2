"""Model files let no one in: no code runs, no name is imported, no archive explodes.

An attacker who hands over a model file controls every byte of it and can
recompute its SHA-256 digests, so every crafted file here carries valid
digests: what stops it is :func:`ensemblekit.load` itself.  "No code runs" is
proved with traps that would leave a marker file behind (a module whose import
writes one, pickles whose unpickling writes one); "no zip bomb" with
``tracemalloc``, which sees every byte a decompression allocates.  The last
test audits the declared dependencies with ``pip-audit``.

``test_io.py`` already covers a plain pickle or joblib file, an object array
inside ``arrays.npz``, a class named ``os.system``, unknown plugins and
tampered digests; these tests add what it does not.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import io
import json
import pickle
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from forge import craft, npz, peak_mib
from sklearn.datasets import load_iris

from ensemblekit import Dropout, MLPClassifier, ModelFileError, load, save
from ensemblekit.io import MAX_BYTES

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def parts(iris, tmp_path_factory):
    """The document and arrays of a real model file, to craft others from."""
    path = tmp_path_factory.mktemp("model") / "model.ekm"
    save(MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0,
                       plugins=[Dropout(0.1)]).fit(*iris), path)
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("model.json")), zf.read("arrays.npz")


class _Booby:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# --------------------------------------------------------------------------
# no name read from the file is ever imported
# --------------------------------------------------------------------------
@pytest.fixture
def trap_module(tmp_path, monkeypatch):
    """A module ``ek_trap`` on sys.path whose import writes ``IMPORTED``."""
    (tmp_path / "ek_trap.py").write_text(
        "from pathlib import Path\n"
        "Path(__file__).with_name('IMPORTED').touch()\n"
        "class Evil:\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path / "IMPORTED"
    sys.modules.pop("ek_trap", None)


def _set(where: str):
    """An edit of the document putting ``value`` at ``where``."""
    def edit(document: dict, value) -> None:
        estimator = document["estimator"]
        if where == "class":
            estimator["class"] = value
        elif where == "plugin":
            estimator["params"]["plugins"][0]["name"] = value
        else:  # a value of another kind, in a parameter
            estimator["params"]["activation"] = {"$": where, "name": value, "dtype": value}
    return edit


@pytest.mark.parametrize("where, value, match", [
    ("class", "ek_trap.Evil", "'ek_trap.Evil' is not one of the classes"),
    ("class", "ek_trap", "'ek_trap' is not one of the classes"),
    ("plugin", "ek_trap.Evil", "needs a plugin that is not installed"),
    ("plugin", "ek_trap", "needs a plugin that is not installed"),
    ("warning", "ek_trap.Evil", "warning category 'ek_trap.Evil' is not allowed"),
    ("builtin_type", "ek_trap.Evil", "type 'ek_trap.Evil' is not allowed"),
    ("dtype", "ek_trap.Evil", "invalid dtype 'ek_trap.Evil'"),
    ("scalar_type", "ek_trap.Evil", "invalid dtype 'ek_trap.Evil'"),
    ("ek_trap.Evil", "x", "unknown value kind 'ek_trap.Evil'"),
    # a kind naming one of the decoder's own methods is not looked up
    ("_init__", "x", "unknown value kind '_init__'"),
    ("_call__", "x", "unknown value kind '_call__'"),
])
def test_names_read_from_the_file_are_never_imported(where, value, match, parts, tmp_path,
                                                      trap_module):
    document, arrays = parts
    document = json.loads(json.dumps(document))
    _set(where)(document, value)
    path = craft(tmp_path / "bad.ekm", document, arrays)
    with pytest.raises(ModelFileError, match=match):
        load(path)
    assert not trap_module.exists() and "ek_trap" not in sys.modules
    importlib.import_module("ek_trap")  # the trap was real
    assert trap_module.exists()


# --------------------------------------------------------------------------
# no pickle is ever unpickled
# --------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [("zlib", 3), ("gzip", 3), ("bz2", 3), ("lzma", 3),
                                      ("xz", 3)])
def test_compressed_joblib_files_are_refused_unexecuted(compress, tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.joblib"
    joblib.dump(_Booby(marker), path, compress=compress)
    with pytest.raises(ModelFileError, match="not an ensemblekit model file"):
        load(path)
    assert not marker.exists()
    joblib.load(path).close()  # the file really was booby-trapped
    assert marker.exists()


@pytest.mark.parametrize("protocol", [0, 1])
def test_old_pickle_protocols_are_refused_unexecuted(protocol, tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.ekm"
    path.write_bytes(pickle.dumps(_Booby(marker), protocol=protocol))  # no \x80 header
    with pytest.raises(ModelFileError, match="not a zip archive"):
        load(path)
    assert not marker.exists()


@pytest.mark.parametrize("where, match", [
    ("arrays.npz", "arrays.npz is unreadable"),
    ("a0.npy", "arrays.npz member 'a0' is not a .npy array"),
])
def test_a_pickle_inside_the_archive_is_refused_unexecuted(where, match, parts, tmp_path):
    document, _ = parts
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Booby(marker))
    arrays = payload if where == "arrays.npz" else npz([(where, payload)])
    with pytest.raises(ModelFileError, match=match):
        load(craft(tmp_path / "bad.ekm", document, arrays))
    assert not marker.exists()


# --------------------------------------------------------------------------
# archive members: names and sizes
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../evil.txt", "/tmp/evil.txt", "..\\evil.txt",
                                  "sub/../../evil.txt", "model.json/../../evil.txt",
                                  "readme.txt"])
def test_path_traversal_and_extra_members_are_refused(name, parts, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    path = craft(work / "bad.ekm", *parts, members=[(name, b"planted")])
    with pytest.raises(ModelFileError, match=re.escape(f"unexpected archive member {name!r}")):
        load(path)
    # nothing is ever extracted: no file appeared anywhere near
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["bad.ekm", "work"]


def test_a_member_given_twice_is_refused(parts, tmp_path):
    document, arrays = parts
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = craft(tmp_path / "bad.ekm", document, arrays,
                      members=[("model.json", b'{"format": "other"}')])
    with pytest.raises(ModelFileError, match="'model.json' appears more than once"):
        load(path)


@pytest.mark.parametrize("name", ["../a0.npy", "a0.npy/../../x.npy", "a0.txt"])
def test_arrays_npz_members_are_checked_too(name, parts, tmp_path):
    document, _ = parts
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    arrays = npz([(name, buffer.getvalue())])
    expected = re.escape(f"arrays.npz has an unexpected member {name!r}")
    with pytest.raises(ModelFileError, match=expected):
        load(craft(tmp_path / "bad.ekm", document, arrays))


ZEROS = 64 << 20  # a bomb: 64 MiB of zeros deflate to about 64 KiB


def _raises_model_file_error(path: Path, match: str, **kwargs):
    def run():
        with pytest.raises(ModelFileError, match=match):
            load(path, **kwargs)
    return run


def test_a_zip_bomb_is_refused_before_it_is_decompressed(parts, tmp_path):
    document, _ = parts
    bomb = tmp_path / "bomb.ekm"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.json", json.dumps(document))
        zf.writestr("arrays.npz", bytes(ZEROS))
    assert bomb.stat().st_size < ZEROS // 100
    peak = peak_mib(_raises_model_file_error(
        bomb, r"the archive would decompress to \d+ bytes, more than max_bytes=33554432",
        max_bytes=32 << 20))
    assert peak < 8


def test_a_member_that_lies_about_its_size_is_never_decompressed_beyond_it(parts,
                                                                          tmp_path):
    document, _ = parts
    bomb = tmp_path / "liar.ekm"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.json", json.dumps(document))
        zf.writestr("arrays.npz", bytes(ZEROS))
    # rewrite the declared (uncompressed) size of arrays.npz, in its local header
    # and in the central directory, to 1 KiB: what the header says, not the data
    data = bytearray(bomb.read_bytes())
    name = b"arrays.npz"
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                data[start + offset:start + offset + 4] = (1024).to_bytes(4, "little")
            start += 4
    bomb.write_bytes(data)
    peak = peak_mib(_raises_model_file_error(bomb, "truncated or corrupted.*Bad CRC-32"))
    assert peak < 8  # before chunked reads, zipfile inflated all 64 MiB, then cut it


def test_a_bomb_inside_arrays_npz_is_refused(parts, tmp_path):
    document, _ = parts
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a0.npy", bytes(ZEROS))
    path = craft(tmp_path / "bomb.ekm", document, buffer.getvalue())
    peak = peak_mib(_raises_model_file_error(
        path, r"arrays.npz would decompress to 67108864 bytes, more than max_bytes",
        max_bytes=32 << 20))
    assert peak < 8


def test_the_size_limit_is_documented_and_can_be_raised(parts, tmp_path):
    path = craft(tmp_path / "model.ekm", *parts)
    assert MAX_BYTES == 1 << 30
    load(path)
    size = path.stat().st_size
    with pytest.raises(ModelFileError, match=f"is {size} bytes, more than max_bytes=100"):
        load(path, max_bytes=100)
    with pytest.raises(ModelFileError, match="would decompress to"):
        load(path, max_bytes=size)
    with pytest.raises(ModelFileError, match=r"model.json \(\d+ bytes, up to \d+ JSON "
                                             r"values\) may take \d+ bytes to parse"):
        load(path, max_bytes=4 * size)
    load(path, max_bytes=1 << 20)
    for bad in (0, -1, 1.5, "1GB", True):
        with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
            load(path, max_bytes=bad)


# --------------------------------------------------------------------------
# dependency audit
# --------------------------------------------------------------------------
def _pinned_dependencies() -> list[str]:
    """The declared dependencies and user extras (not 'test'), pinned to what is installed."""
    from packaging.requirements import Requirement

    extras = [e for e in importlib.metadata.metadata("ensemblekit").get_all("Provides-Extra")
              if e != "test"]
    pinned = {}
    for text in importlib.metadata.requires("ensemblekit"):
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is not None and not any(marker.evaluate({"extra": e}) for e in extras):
            continue
        name = requirement.name
        try:
            pinned[name] = f"{name}=={importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return sorted(pinned.values())


def test_declared_dependencies_have_no_known_vulnerabilities(tmp_path):
    pytest.importorskip("pip_audit", reason="pip-audit is in the 'test' extra")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(_pinned_dependencies()) + "\n")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip_audit", "--requirement", str(requirements),
             "--no-deps", "--disable-pip", "--format", "json", "--progress-spinner", "off",
             "--timeout", "20"],
            capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.skip("pip-audit: PyPI did not answer within 120 s")
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.skip(f"pip-audit could not reach PyPI's JSON API: {result.stderr[-300:]}")
    audited = [d for d in report["dependencies"] if "skip_reason" not in d]
    if not audited:
        reasons = {d["skip_reason"] for d in report["dependencies"]}
        pytest.skip(f"PyPI's JSON API knew none of the pinned versions (a mirror?): "
                    f"{sorted(reasons)[:2]}")
    vulnerable = {f"{d['name']} {d['version']}": [v["id"] for v in d["vulns"]]
                  for d in audited if d["vulns"]}
    assert not vulnerable, f"known vulnerabilities: {vulnerable}"
