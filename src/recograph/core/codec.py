"""One array codec for every model: dataclass fields ↔ the plain arrays of ``arrays.npz``.

A model declares how each stored field is written with ``dense(dtype)``, ``scalar(dtype)``
or ``sparse()`` as the field's metadata and inherits ``to_arrays`` / ``from_arrays`` from
`ArrayCoded`; the keys are ``prefix + field name`` (a sparse field adds ``.data``,
``.indices``, ``.indptr`` and ``.shape``), in field order, so an artifact's names and contents
follow from the class alone. ``check_arrays`` is the one place a model validates what it read.

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


def sparse_to_arrays(matrix: Any, name: str) -> dict[str, npt.NDArray[Any]]:
    """A CSR matrix as ``<name>data`` (float32), ``indices``/``indptr`` (int32), ``shape``."""
    csr = sp.csr_matrix(matrix)
    if csr.nnz >= np.iinfo(np.int32).max:
        raise ValueError(f"{name}: {csr.nnz} non-zeros do not fit int32 indices")
    return {
        f"{name}data": np.ascontiguousarray(csr.data, dtype=np.float32),
        f"{name}indices": np.ascontiguousarray(csr.indices, dtype=np.int32),
        f"{name}indptr": np.ascontiguousarray(csr.indptr, dtype=np.int32),
        f"{name}shape": np.array(csr.shape, dtype=np.int64),
    }


def sparse_from_arrays(arrays: Arrays, name: str) -> sp.csr_matrix:
    """The inverse of ``sparse_to_arrays``; works on read-only arrays without copying them."""
    shape = tuple(int(n) for n in arrays[f"{name}shape"])
    if len(shape) != 2:
        raise ValueError(f"{name}shape must have two entries, got {shape}")
    indptr = arrays[f"{name}indptr"]
    if len(indptr) != shape[0] + 1:
        raise ValueError(f"{name}indptr has {len(indptr)} entries for {shape[0]} rows")
    return sp.csr_matrix(
        (arrays[f"{name}data"], arrays[f"{name}indices"], indptr), shape=shape, copy=False
    )


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


Encoding = Dense | Scalar | Sparse


def dense(dtype: type[np.generic], contiguous: bool = True) -> dict[str, Encoding]:
    """Field metadata: store this ndarray field as ``dtype``."""
    return {CODEC: Dense(dtype, contiguous)}


def scalar(dtype: type[np.generic]) -> dict[str, Encoding]:
    """Field metadata: store this number as a 0-d ``dtype`` array."""
    return {CODEC: Scalar(dtype)}


def sparse() -> dict[str, Encoding]:
    """Field metadata: store this CSR matrix as its four arrays."""
    return {CODEC: Sparse()}


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
