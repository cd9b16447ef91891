"""The models' array codec, by its old address: `recograph.core.codec` (see there)."""

from recograph.core.codec import (
    CODEC,
    ArrayCoded,
    Arrays,
    Dense,
    Encoding,
    Nested,
    Pattern,
    Scalar,
    Sparse,
    decode,
    dense,
    encode,
    nested,
    pattern,
    scalar,
    sparse,
)

__all__ = [
    "CODEC",
    "ArrayCoded",
    "Arrays",
    "Dense",
    "Encoding",
    "Nested",
    "Pattern",
    "Scalar",
    "Sparse",
    "decode",
    "dense",
    "encode",
    "nested",
    "pattern",
    "scalar",
    "sparse",
]
