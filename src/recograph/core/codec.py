"""One array codec for every model: dataclass fields ↔ the plain arrays of ``arrays.npz``.

A model declares how each stored field is written with ``dense(dtype)``, ``scalar(dtype)``,
``sparse()``, ``pattern(dtype)`` or ``nested(Model)`` as the field's metadata and inherits
``to_arrays`` / ``from_arrays`` from `ArrayCoded`; the keys are ``prefix + field name`` (a
sparse field adds ``.data``, ``.indices``, ``.indptr`` and ``.shape``, a pattern all but
``.data``, a nested model its own keys after ``.``), in field order, so an artifact's names
and contents follow from the class alone. ``check_arrays`` is the one place a model validates
what it read.

Whatever a server derives from the arrays at load is private to its process; what is read
from them memory-mapped is shared by every worker (`recograph.artifacts`). So structures
worth storing are stored, and a matrix whose entries are all one (`pattern`) keeps its ones
in a zero-stride view of a single value instead of an array per entry.

It sits in ``core`` because the catalogue and histories (below the models) are stored by it
too; ``recommenders.codec`` and ``recommenders.sparse`` re-export its names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

Arrays = Mapping[str, npt.NDArray[Any]]
CODEC = "array_codec"


def pattern_to_arrays(matrix: Any, name: str, columns: bool = False) -> dict[str, npt.NDArray[Any]]:
    """Where a CSR (CSC when ``columns``) matrix's entries are: ``<name>indices`` and
    ``indptr`` (int32) and ``shape`` (its values are not stored: `pattern_matrix` reads them
    back as ones)."""
    compressed = sp.csc_matrix(matrix) if columns else sp.csr_matrix(matrix)
    if compressed.nnz >= np.iinfo(np.int32).max:
        raise ValueError(f"{name}: {compressed.nnz} non-zeros do not fit int32 indices")
    return {
        f"{name}indices": np.ascontiguousarray(compressed.indices, dtype=np.int32),
        f"{name}indptr": np.ascontiguousarray(compressed.indptr, dtype=np.int32),
        f"{name}shape": np.array(compressed.shape, dtype=np.int64),
    }


def sparse_to_arrays(matrix: Any, name: str) -> dict[str, npt.NDArray[Any]]:
    """A CSR matrix as ``<name>data`` (float32), ``indices``/``indptr`` (int32), ``shape``."""
    csr = sp.csr_matrix(matrix)
    data = {f"{name}data": np.ascontiguousarray(csr.data, dtype=np.float32)}
    return {**data, **pattern_to_arrays(csr, name)}


def _stored_shape(arrays: Arrays, name: str, columns: bool = False) -> tuple[int, int]:
    """A stored matrix's shape, checked against its ``indptr`` (one more than its rows, or
    than its columns when ``columns``)."""
    shape = tuple(int(n) for n in arrays[f"{name}shape"])
    if len(shape) != 2:
        raise ValueError(f"{name}shape must have two entries, got {shape}")
    compressed = shape[1] if columns else shape[0]
    if len(arrays[f"{name}indptr"]) != compressed + 1:
        raise ValueError(
            f"{name}indptr has {len(arrays[f'{name}indptr'])} entries for {compressed} "
            f"{'columns' if columns else 'rows'}"
        )
    return shape[0], shape[1]


def sparse_from_arrays(arrays: Arrays, name: str) -> sp.csr_matrix:
    """The inverse of ``sparse_to_arrays``; works on read-only arrays without copying them."""
    shape = _stored_shape(arrays, name)
    return sp.csr_matrix(
        (arrays[f"{name}data"], arrays[f"{name}indices"], arrays[f"{name}indptr"]),
        shape=shape,
        copy=False,
    )


def read_only(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``values``, no longer writable: what a snapshot derives at load is shared by every
    request (and, made before a fork, by every worker), so none may write into it."""
    values.flags.writeable = False
    return values


def ones_view(n: int, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """``n`` read-only ones of ``dtype`` held in one element (a zero-stride view): the data of
    a matrix whose entries only mark where something is."""
    return np.broadcast_to(np.ones(1, dtype=dtype), (n,))


def pattern_matrix(
    indices: npt.NDArray[Any],
    indptr: npt.NDArray[Any],
    shape: tuple[int, int],
    dtype: type[np.generic],
    columns: bool = False,
) -> sp.csr_matrix | sp.csc_matrix:
    """A CSR (CSC when ``columns``) matrix of ones on ``indices``/``indptr``, which it uses
    without copying them (int32 index arrays stay as they are)."""
    kind = sp.csc_matrix if columns else sp.csr_matrix
    return kind((ones_view(len(indices), dtype), indices, indptr), shape=shape, copy=False)


def pattern_from_arrays(
    arrays: Arrays, name: str, dtype: type[np.generic], columns: bool = False
) -> sp.csr_matrix | sp.csc_matrix:
    """The inverse of ``pattern_to_arrays``: ones of ``dtype``, the arrays used as read."""
    shape = _stored_shape(arrays, name, columns)
    return pattern_matrix(arrays[f"{name}indices"], arrays[f"{name}indptr"], shape, dtype, columns)


@dataclass(frozen=True)
class Dense:
    """An ndarray written in ``dtype`` (C-contiguous unless ``contiguous`` is False, when its
    memory order is kept) and read back as stored when it already has that dtype (no copy)."""

    dtype: type[np.generic]
    contiguous: bool = True


@dataclass(frozen=True)
class Scalar:
    """A Python number stored as a 0-d array of ``dtype``."""

    dtype: type[np.generic]


@dataclass(frozen=True)
class Sparse:
    """A CSR matrix stored as its four arrays (``recommenders.sparse``)."""


@dataclass(frozen=True)
class Pattern:
    """A sparse matrix of ones (of ``dtype`` when read), CSC when ``columns``: only where its
    entries are is stored (`pattern_to_arrays`)."""

    dtype: type[np.generic]
    columns: bool = False


@dataclass(frozen=True)
class Nested:
    """Another `ArrayCoded` model, stored under ``<prefix><field>.``."""

    model: type[ArrayCoded]


Encoding = Dense | Scalar | Sparse | Pattern | Nested


def dense(dtype: type[np.generic], contiguous: bool = True) -> dict[str, Encoding]:
    """Field metadata: store this ndarray field as ``dtype``."""
    return {CODEC: Dense(dtype, contiguous)}


def scalar(dtype: type[np.generic]) -> dict[str, Encoding]:
    """Field metadata: store this number as a 0-d ``dtype`` array."""
    return {CODEC: Scalar(dtype)}


def sparse() -> dict[str, Encoding]:
    """Field metadata: store this CSR matrix as its four arrays."""
    return {CODEC: Sparse()}


def pattern(dtype: type[np.generic], columns: bool = False) -> dict[str, Encoding]:
    """Field metadata: store where this matrix's entries are; read it back as ones."""
    return {CODEC: Pattern(dtype, columns)}


def nested(model: type[ArrayCoded]) -> dict[str, Encoding]:
    """Field metadata: store this `ArrayCoded` model's arrays under the field's name."""
    return {CODEC: Nested(model)}


def _coded_fields(cls: type[Any]) -> list[tuple[str, Encoding]]:
    """The stored fields of a dataclass, in declaration order."""
    return [
        (f.name, f.metadata[CODEC])
        for f in dataclasses.fields(cls)
        if f.init and CODEC in f.metadata
    ]


def encode(model: Any, prefix: str) -> dict[str, npt.NDArray[Any]]:
    """``model``'s stored fields as named arrays for ``np.savez`` (no pickling)."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    for name, encoding in _coded_fields(type(model)):
        value = getattr(model, name)
        if isinstance(encoding, Sparse):
            arrays.update(sparse_to_arrays(value, f"{prefix}{name}."))
        elif isinstance(encoding, Pattern):
            arrays.update(pattern_to_arrays(value, f"{prefix}{name}.", encoding.columns))
        elif isinstance(encoding, Nested):
            arrays.update(value.to_arrays(f"{prefix}{name}."))
        elif isinstance(encoding, Scalar):
            arrays[f"{prefix}{name}"] = np.array(value, dtype=encoding.dtype)
        elif encoding.contiguous:
            arrays[f"{prefix}{name}"] = np.ascontiguousarray(value, dtype=encoding.dtype)
        else:
            arrays[f"{prefix}{name}"] = np.asarray(value, dtype=encoding.dtype)
    return arrays


def decode(cls: type[Any], arrays: Arrays, prefix: str) -> dict[str, Any]:
    """The constructor arguments of ``cls`` read from ``encode``'s arrays."""
    values: dict[str, Any] = {}
    for name, encoding in _coded_fields(cls):
        key = f"{prefix}{name}"
        if isinstance(encoding, Sparse):
            values[name] = sparse_from_arrays(arrays, f"{key}.")
        elif isinstance(encoding, Pattern):
            values[name] = pattern_from_arrays(arrays, f"{key}.", encoding.dtype, encoding.columns)
        elif isinstance(encoding, Nested):
            values[name] = encoding.model.from_arrays(arrays, f"{key}.")
        elif isinstance(encoding, Scalar):
            kind = float if np.issubdtype(encoding.dtype, np.floating) else int
            values[name] = kind(arrays[key])
        elif encoding.dtype is np.str_:
            values[name] = np.asarray(arrays[key])  # as stored, for the model's kind check
        else:
            values[name] = np.asarray(arrays[key], dtype=encoding.dtype)
    return values


class ArrayCoded:
    """Mixin for a frozen dataclass model: ``to_arrays`` / ``from_arrays`` by `encode`/`decode`.

    ``ARRAY_PREFIX`` is the default key prefix (the model's name in the artifacts, e.g.
    ``"svd."``); ``check_arrays`` raises ``ValueError`` when what was read does not fit.
    """

    ARRAY_PREFIX: ClassVar[str]

    def to_arrays(self, prefix: str | None = None) -> dict[str, npt.NDArray[Any]]:
        """Plain arrays for ``np.savez``, keys starting with ``prefix``."""
        return encode(self, self.ARRAY_PREFIX if prefix is None else prefix)

    @classmethod
    def from_arrays(cls, arrays: Arrays, prefix: str | None = None) -> Self:
        """Rebuild from `to_arrays` output (a dict or an ``np.load`` result), validated."""
        key_prefix = cls.ARRAY_PREFIX if prefix is None else prefix
        values = decode(cls, arrays, key_prefix)
        cls.check_arrays(values, key_prefix)
        return cls(**values)

    @classmethod
    def check_arrays(cls, values: Mapping[str, Any], prefix: str) -> None:
        """Raise ``ValueError`` when the decoded fields disagree (shapes); none by default."""
