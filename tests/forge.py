"""Helpers for tests that forge model files, as an attacker would.

An attacker controls every byte of a model file and can recompute its SHA-256
digests, so every file built here carries valid digests: what stops it must be
:func:`ensemblekit.load` itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import tracemalloc
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np


def read_parts(path: Path) -> tuple[dict, bytes]:
    """The parsed ``model.json`` and the raw ``arrays.npz`` of a model file."""
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("model.json")), zf.read("arrays.npz")


def craft(path: Path, document: dict, arrays: bytes,
          members: Iterable[tuple[str, bytes]] = (), compression: int = zipfile.ZIP_DEFLATED,
          text: str | None = None) -> Path:
    """Write a model file with valid digests, plus extra ``(name, bytes)`` members.

    ``text``, when given, is written as ``model.json`` instead of the document
    (its digests must then be right already: see :func:`digested_text`).
    """
    if text is None:
        text = json.dumps(digested(document, arrays))
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr("model.json", text)
        zf.writestr("arrays.npz", arrays)
        for name, data in members:
            zf.writestr(name, data)
    return path


def digested(document: dict, arrays: bytes) -> dict:
    """A copy of ``document`` whose two digests match it and ``arrays``."""
    document = json.loads(json.dumps(document))
    document.pop("document_sha256", None)
    document["arrays_sha256"] = hashlib.sha256(arrays).hexdigest()
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    document["document_sha256"] = hashlib.sha256(canonical).hexdigest()
    return document


def digested_text(document: dict, arrays: bytes, placeholder: str, json_text: str) -> str:
    """``model.json`` text with raw ``json_text`` (which Python's json could not write)
    in place of ``placeholder``, and the digests a forger computes for it."""
    document = digested(document, arrays)
    document.pop("document_sha256")
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    document["document_sha256"] = hashlib.sha256(
        canonical.replace(placeholder, json_text).encode()).hexdigest()
    return json.dumps(document).replace(placeholder, json_text)


def npz(members: Iterable[tuple[str, bytes]]) -> bytes:
    """An ``arrays.npz`` holding the given ``(name, bytes)`` members, in order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


def npz_members(arrays: bytes) -> list[tuple[str, bytes]]:
    """The ``(name, bytes)`` members of an ``arrays.npz``, in order."""
    with zipfile.ZipFile(io.BytesIO(arrays)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def npy_header(dtype: str, shape: tuple[int, ...]) -> bytes:
    """A ``.npy`` header (format 1.0) declaring ``dtype`` and ``shape``, with no data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def peak_mib(function: Callable[[], object]) -> float:
    """Peak memory (MiB) Python and numpy allocate while ``function`` runs."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
