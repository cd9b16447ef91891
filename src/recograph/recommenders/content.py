"""Content-based item similarity: TF-IDF over product attributes, top-k cosine neighbours.

Each product becomes a bag of feature tokens:

- ``category:<category>`` and ``brand:<brand>`` (one token each),
- ``price_band:budget|mid|premium|flagship``: the product's price quartile within its category,
- one token per spec, ``<key>:<value>`` normalised (``form_factor:over-ear``, ``anc:yes``), so a
  spec stays whole instead of being split into words,
- the words of the name (counted twice) and of the description, lowercased, stop words and
  bare numbers dropped.

TF-IDF uses sublinear term frequency (a word repeated in a long description does not swamp the
structured fields). Before the L2 normalisation each column is multiplied by its field weight
(`FIELD_WEIGHTS`): category 3, spec 2, brand 1.5, price band 1, word 1. The category dominates
so that neighbours are mostly in the same category; specs are the structured facts that tell
products of one category apart; brand matters less than what the product is; free text is noisy.

For every stored neighbour pair the model keeps the three shared features that explain it best:
the largest products of both items' weights, one per label (case-insensitive). Specs, brand and
price band come first; free-text words still count in the similarity but never explain it
(alone they read as tokens: "make", "gb", "core"); the shared category comes last because it is
usually obvious to the shopper: "Similar to Sony WH-1000XM5: over-ear, wireless, ANC" says
more than "…: Headphones, over-ear, wireless". Spec labels are made to read in such a sentence
("anc: yes" → "ANC", "form_factor: over-ear" → "over-ear", "battery_wh: 70" → "battery 70 Wh").

Similarity needs no purchases, so products nobody has bought get neighbours too.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recograph.recommenders.codec import ArrayCoded, dense, read_only, sparse
from recograph.recommenders.item_knn import DENSE_MAX_ITEMS
from recograph.recommenders.sparse import (
    row_entries,
    weighted_row_sum,
)

if TYPE_CHECKING:
    # pandas and scikit-learn (~70 MB together) only fit the model: the fit functions import
    # them, so a serving worker, which reads the stored matrices, never loads them.
    import pandas as pd

logger = logging.getLogger(__name__)

Arrays = Mapping[str, npt.NDArray[Any]]

N_SHARED = 3  # explaining features kept per neighbour pair
PRICE_BANDS = ("budget", "mid", "premium", "flagship")
PRICE_BAND_LABELS = ("budget", "mid-range", "premium", "flagship")
# Upper bound of dense similarity cells computed at once (rows per block × n_items).
_BLOCK_CELLS = 16_000_000
_PAIR_CHUNK = 100_000
_DENSE_DF_FRACTION = 0.02
_MAX_DENSE = 512

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_RESERVED_KEYS = frozenset({"category", "brand", "price_band"})
_YES = frozenset({"true", "yes", "y"})
_NO = frozenset({"false", "no", "n"})
# How spec-key words are shown in labels ("anc" → "ANC"); other words stay as written.
_ACRONYMS = {
    w: w.upper()
    for w in [
        "ai",
        "anc",
        "cpu",
        "dac",
        "dpi",
        "ecg",
        "enc",
        "gps",
        "gpu",
        "hdd",
        "hdmi",
        "hdr",
        "ibis",
        "ip",
        "lan",
        "lcd",
        "led",
        "lte",
        "mqa",
        "nfc",
        "oled",
        "os",
        "ppm",
        "ram",
        "rgb",
        "ssd",
        "tv",
        "uhs",
        "usb",
    ]
} | {"gan": "GaN", "spo2": "SpO2", "wifi": "Wi-Fi"}
# Unit suffixes of spec keys ("battery_wh") and how the unit is shown ("battery 70 Wh").
_UNITS = {
    "mb_s": "MB/s",
    "gb_s": "GB/s",
    "mm": "mm",
    "cm": "cm",
    "m2": "m²",
    "m": "m",
    "in": "in",
    "g": "g",
    "kg": "kg",
    "mb": "MB",
    "gb": "GB",
    "tb": "TB",
    "mah": "mAh",
    "wh": "Wh",
    "w": "W",
    "v": "V",
    "h": "h",
    "days": "days",
    "years": "years",
    "ms": "ms",
    "hz": "Hz",
    "khz": "kHz",
    "mhz": "MHz",
    "ghz": "GHz",
    "mbps": "Mbps",
    "gbps": "Gbps",
    "ohm": "Ω",
    "db": "dB",
    "mp": "MP",
    "dpi": "DPI",
    "k": "K",
    "deg": "°",
}


class Field(IntEnum):
    """Where a feature token comes from; decides its weight and how it is explained."""

    CATEGORY = 0
    SPEC = 1
    BRAND = 2
    PRICE_BAND = 3
    WORD = 4


FIELD_WEIGHTS: dict[Field, float] = {
    Field.CATEGORY: 3.0,
    Field.SPEC: 2.0,
    Field.BRAND: 1.5,
    Field.PRICE_BAND: 1.0,
    Field.WORD: 1.0,
}


class ContentMatch(NamedTuple):
    """A similar item (or, from `explain_content`, the seed it is similar to) and why."""

    position: int
    similarity: float
    shared_features: tuple[str, ...]


@dataclass(frozen=True)
class ContentModel(ArrayCoded):
    """Top-k content neighbours of every item, with the features each pair shares.

    - ``similarity``: CSR (n_items × n_items) float32 with int32 indices and sorted column
      indices; row i holds the cosine similarity of item i to its k nearest items (> 0),
      diagonal zero. Not symmetric: j may be among i's neighbours but not the reverse.
    - ``shared_features``: int32 (nnz, 3), row r explains ``similarity.data[r]``: indices into
      ``feature_labels`` of the best shared features, best first, -1 padded.
    - ``feature_labels``: str (n_features,), human-readable labels ("over-ear", "ANC", "Sony").
    """

    ARRAY_PREFIX: ClassVar[str] = "content."

    similarity: sp.csr_matrix = dataclasses.field(metadata=sparse())
    shared_features: npt.NDArray[np.int32] = dataclasses.field(metadata=dense(np.int32))
    feature_labels: npt.NDArray[np.str_] = dataclasses.field(
        metadata=dense(np.str_, contiguous=False)
    )

    @functools.cached_property
    def dense_similarity(self) -> npt.NDArray[np.float64] | None:
        """``similarity`` as a dense float64 array for a catalogue of at most
        `DENSE_MAX_ITEMS` products (None above): `score_content` reads the seeds' rows in
        one gather instead of walking the CSR rows."""
        if self.n_items > DENSE_MAX_ITEMS:
            return None
        return read_only(np.asarray(self.similarity.toarray(), dtype=np.float64))

    @property
    def n_items(self) -> int:
        return int(self.similarity.shape[0])

    @classmethod
    def check_arrays(cls, values: Mapping[str, Any], prefix: str) -> None:
        """Square CSR with in-range indices, three shared features per stored pair, labels."""
        similarity = values["similarity"]
        shape = similarity.shape
        if shape[0] != shape[1]:
            raise ValueError(f"{prefix}similarity.shape {shape} is not square")
        data, indices = similarity.data, similarity.indices
        shared, labels = values["shared_features"], values["feature_labels"]
        if labels.dtype.kind != "U" or labels.ndim != 1:
            raise ValueError(f"{prefix}feature_labels must be a 1-d str array")
        if len(indices) != len(data) or similarity.indptr[-1] != len(data):
            raise ValueError(f"{prefix}similarity: inconsistent CSR arrays for shape {shape}")
        if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= shape[1]):
            raise ValueError(f"{prefix}similarity.indices out of range")
        if shared.shape != (len(data), N_SHARED):
            raise ValueError(f"{prefix}shared_features has shape {shared.shape}, not (nnz, 3)")
        if shared.size and int(shared.max()) >= len(labels):
            raise ValueError(f"{prefix}shared_features refer past feature_labels")


# --- tokens -----------------------------------------------------------------------------


def _norm_value(text: str) -> str:
    return re.sub(r"[\s_]+", "-", text.strip().lower())


def _norm_key(key: str) -> str:
    norm = re.sub(r"[^a-z0-9]+", "_", key.strip().lower()).strip("_")
    return f"spec_{norm}" if norm in _RESERVED_KEYS else norm


def _human_words(text: str) -> str:
    """``noise_cancelling`` → "noise cancelling"; known acronyms: ``ai_tracking`` → "AI
    tracking", ``5g`` → "5G". Words written with capitals are kept as they are."""
    words = [w for w in re.split(r"[_\s]+", text.strip()) if w]
    return " ".join(
        _ACRONYMS.get(w, w.upper() if len(w) <= 3 and w.islower() and not w.isalpha() else w)
        for w in words
    )


def _unit_split(key: str) -> tuple[str, str] | None:
    """(stem, unit) when the key ends in a unit: ``battery_wh`` → ("battery", "Wh")."""
    norm = _norm_key(key)
    for suffix, unit in _UNITS.items():
        if norm.endswith(f"_{suffix}") and len(norm) > len(suffix) + 1:
            return norm[: -len(suffix) - 1], unit
    return None


def _number(value: object) -> str | None:
    """Canonical text of a finite number (``30.0`` → ``"30"``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number):
        return None
    return str(int(number)) if number.is_integer() else f"{number:g}"


def spec_token(key: str, value: object) -> tuple[str, str] | None:
    """The (token, label) of one spec, or None when key or value is empty.

    ``("ANC", True)`` → ``("anc:yes", "ANC")``; ``("wireless", "no")`` → ``("wireless:no",
    "no wireless")``; ``("form_factor", "Over-Ear")`` → ``("form_factor:over-ear",
    "Over-Ear")``; ``("battery_wh", "70.0")`` → ``("battery_wh:70", "battery 70 Wh")``;
    ``("buttons", 6)`` → ``("buttons:6", "buttons 6")``.
    """
    nkey = _norm_key(str(key))
    if not nkey:
        return None
    human = _human_words(str(key))
    raw = value if isinstance(value, bool) else str(value).strip()
    if raw is True or (isinstance(raw, str) and raw.lower() in _YES):
        return f"{nkey}:yes", human
    if raw is False or (isinstance(raw, str) and raw.lower() in _NO):
        return f"{nkey}:no", f"no {human}"
    text = re.sub(r"\s+", " ", str(raw))
    if not text:
        return None
    number = _number(value)
    shown = number if number is not None else text
    unit = _unit_split(str(key))
    if unit is not None and shown[0].isdigit():
        space = "" if unit[1] == "°" else " "
        label = f"{_human_words(unit[0])} {shown}{space}{unit[1]}"
    elif number is not None:
        label = f"{human} {number}"
    else:
        label = text
    return f"{nkey}:{_norm_value(shown)}", label


def _words(text: str) -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # fit only (see above)

    return [
        w
        for w in _WORD.findall(text.lower())
        if len(w) > 1 and not w.isdigit() and w not in ENGLISH_STOP_WORDS
    ]


def price_bands(products: pd.DataFrame) -> npt.NDArray[np.int8]:
    """Index into `PRICE_BANDS` of each product: its price quartile within its category.

    The mid-rank percentile ``(rank - 0.5) / n`` (ties share their average rank) is cut at
    0.25, 0.5 and 0.75, so a category's only product, or products of equal price, are "mid".
    """
    if products.empty:
        return np.zeros(0, dtype=np.int8)
    groups = products.groupby("category", sort=False)["price"]
    rank = groups.rank(method="average").to_numpy(dtype=np.float64)
    size = groups.transform("size").to_numpy(dtype=np.float64)
    percentile: npt.NDArray[np.float64] = (rank - 0.5) / size
    bands: npt.NDArray[np.int8] = np.searchsorted([0.25, 0.5, 0.75], percentile).astype(np.int8)
    return bands


def product_tokens(
    products: pd.DataFrame,
) -> tuple[list[list[str]], dict[str, tuple[Field, str]]]:
    """Token list of each product and, for each token, its field and label (first seen wins)."""
    bands = price_bands(products)
    features: dict[str, tuple[Field, str]] = {}
    # Catalogues repeat the same categories, brands and spec values: convert each once.
    fixed: dict[tuple[Field, str], tuple[str, str] | None] = {}
    specs_seen: dict[tuple[str, object], tuple[str, str] | None] = {}
    docs: list[list[str]] = []

    def field_token(field: Field, text: str) -> tuple[str, str] | None:
        if (field, text) not in fixed:
            label = re.sub(r"\s+", " ", text.strip())
            token = f"{field.name.lower()}:{_norm_value(label)}"
            fixed[field, text] = (token, label) if label else None
            if label:
                features.setdefault(token, (field, label))
        return fixed[field, text]

    for band in range(len(PRICE_BANDS)):
        features[f"price_band:{PRICE_BANDS[band]}"] = (Field.PRICE_BAND, PRICE_BAND_LABELS[band])
    columns = zip(
        products["name"],
        products["brand"],
        products["category"],
        products["description"],
        products["specs"],
        bands,
        strict=True,
    )
    for name, brand, category, description, specs, band in columns:
        doc: list[str] = []
        for field, text in ((Field.CATEGORY, category), (Field.BRAND, brand)):
            token = field_token(field, str(text))
            if token is not None:
                doc.append(token[0])
        doc.append(f"price_band:{PRICE_BANDS[band]}")
        for key, value in sorted((specs or {}).items(), key=lambda kv: str(kv[0])):
            memo_key = (str(key), value if isinstance(value, bool) else str(value))
            if memo_key not in specs_seen:
                spec = spec_token(str(key), value)
                specs_seen[memo_key] = spec
                if spec is not None:
                    features.setdefault(spec[0], (Field.SPEC, spec[1]))
            spec = specs_seen[memo_key]
            if spec is not None:
                doc.append(spec[0])
        name_words = _words(str(name))
        words = [*name_words, *name_words, *_words(str(description))]
        for word in words:
            features.setdefault(word, (Field.WORD, word))
        doc.extend(words)
        docs.append(doc)
    return docs, features


def _identity(doc: list[str]) -> list[str]:
    return doc


def feature_matrix(
    products: pd.DataFrame, field_weights: Mapping[Field, float] | None = None
) -> tuple[sp.csr_matrix, npt.NDArray[np.int8], list[str]]:
    """Weighted, L2-normalised TF-IDF (n_items × n_features, float32 CSR), each feature's
    `Field` and label; ``field_weights`` override `FIELD_WEIGHTS` (the build's tuner)."""
    by_field = {**FIELD_WEIGHTS, **(field_weights or {})}
    docs, features = product_tokens(products)
    if not docs:
        empty = sp.csr_matrix((len(docs), 0), dtype=np.float32)
        return empty, np.zeros(0, dtype=np.int8), []
    from sklearn.feature_extraction.text import TfidfVectorizer  # fit only (see above)
    from sklearn.preprocessing import normalize

    vectorizer = TfidfVectorizer(
        analyzer=_identity, lowercase=False, norm=None, sublinear_tf=True, dtype=np.float64
    )
    tfidf = sp.csr_matrix(vectorizer.fit_transform(docs))
    vocabulary: list[str] = [str(t) for t in vectorizer.get_feature_names_out()]
    fields = np.array([features[t][0] for t in vocabulary], dtype=np.int8)
    weights = np.array([by_field[Field(f)] for f in fields], dtype=np.float64)
    weighted = sp.csr_matrix(tfidf @ sp.diags(weights))
    matrix = sp.csr_matrix(normalize(weighted, norm="l2", axis=1), dtype=np.float32)
    matrix.sort_indices()
    return matrix, fields, [features[t][1] for t in vocabulary]


# --- fit --------------------------------------------------------------------------------


def _top_k_block(
    dense: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """(row, column, value) of the k largest positive cells of each row; ties → lower column."""
    n_cols = dense.shape[1]
    if k < n_cols:
        kth = np.partition(dense, n_cols - k, axis=1)[:, n_cols - k]
        floor = np.maximum(kth, np.finfo(np.float32).smallest_subnormal)
        mask = dense >= floor[:, None]
    else:
        mask = dense > 0
    # flatnonzero on the flat mask is an order of magnitude faster than 2-d nonzero.
    rows, cols = np.divmod(np.flatnonzero(mask), n_cols)
    values = dense[rows, cols]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    starts = np.searchsorted(rows, rows, side="left")
    keep = (np.arange(len(rows)) - starts) < k
    return rows[keep], cols[keep], values[keep]


def _split_by_frequency(
    matrix: sp.csr_matrix,
) -> tuple[npt.NDArray[np.float32], sp.csr_matrix, sp.csr_matrix]:
    """Frequent features as a dense array, the rest as CSR (and its transpose).

    A feature in a fraction f of the items costs (f·n)² scattered operations in a sparse
    product but n² BLAS operations in a dense one, so features in more than
    `_DENSE_DF_FRACTION` of the items (price bands, "wireless:yes", common words) go dense.
    """
    n = matrix.shape[0]
    doc_freq = np.bincount(matrix.indices, minlength=matrix.shape[1])
    frequent = np.flatnonzero(doc_freq > _DENSE_DF_FRACTION * n)
    frequent = np.sort(frequent[np.argsort(-doc_freq[frequent], kind="stable")][:_MAX_DENSE])
    rare = np.setdiff1d(np.arange(matrix.shape[1]), frequent)
    dense = np.ascontiguousarray(matrix[:, frequent].toarray(), dtype=np.float32)
    sparse = sp.csr_matrix(matrix[:, rare], dtype=np.float32)
    return dense, sparse, sp.csr_matrix(sparse.T)


def _neighbours(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Top-k cosine neighbours per row (zero diagonal), built block by block to bound memory."""
    n = matrix.shape[0]
    block = max(1, _BLOCK_CELLS // max(n, 1))
    dense_part, sparse_part, sparse_t = _split_by_frequency(matrix)
    all_rows, all_cols, all_vals = [], [], []
    for start in range(0, n, block):
        stop = min(n, start + block)
        sims = np.ascontiguousarray(dense_part[start:stop] @ dense_part.T, dtype=np.float32)
        rare = sp.csr_matrix(sparse_part[start:stop] @ sparse_t)
        rare_rows = np.repeat(np.arange(stop - start, dtype=np.int64), np.diff(rare.indptr))
        # Each (row, column) occurs once in a CSR product, so a plain scatter-add is exact.
        sims.reshape(-1)[rare_rows * n + rare.indices] += rare.data
        local = np.arange(stop - start)
        sims[local, start + local] = 0.0
        np.clip(sims, 0.0, 1.0, out=sims)
        rows, cols, vals = _top_k_block(sims, k)
        all_rows.append(rows + start)
        all_cols.append(cols)
        all_vals.append(vals)
    rows = np.concatenate(all_rows) if all_rows else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(all_cols) if all_cols else np.zeros(0, dtype=np.int64)
    vals = np.concatenate(all_vals) if all_vals else np.zeros(0, dtype=np.float32)
    order = np.lexsort((cols, rows))
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_matrix(
        (vals[order].astype(np.float32), cols[order].astype(np.int32), indptr), shape=(n, n)
    )


def _shared_labels(
    matrix: sp.csr_matrix,
    similarity: sp.csr_matrix,
    tier: npt.NDArray[np.int8],
    label_group: npt.NDArray[np.int64],
) -> npt.NDArray[np.int32]:
    """For each stored pair (in CSR data order) the label groups of its best shared features.

    Features are ranked by `explain_tier`, then by the product of both items' weights
    (descending), then by feature id; a feature whose label group is already listed is
    skipped, and `N_SHARED` groups are kept (-1 padded).
    """
    nnz = similarity.nnz
    out = np.full((nnz, N_SHARED), -1, dtype=np.int32)
    pair_rows = np.repeat(np.arange(similarity.shape[0]), np.diff(similarity.indptr))
    pair_cols = similarity.indices
    n_groups = int(label_group.max()) + 1 if len(label_group) else 1
    for start in range(0, nnz, _PAIR_CHUNK):
        stop = min(nnz, start + _PAIR_CHUNK)
        products = sp.csr_matrix(
            matrix[pair_rows[start:stop]].multiply(matrix[pair_cols[start:stop]])
        )
        products.eliminate_zeros()
        pair = np.repeat(np.arange(stop - start), np.diff(products.indptr))
        feature = products.indices.astype(np.int64)
        shown = tier[feature] >= 0  # free-text words never explain a pair
        pair, feature, weight = pair[shown], feature[shown], products.data[shown]
        order = np.lexsort((feature, -weight, tier[feature], pair))
        pair, group = pair[order], label_group[feature[order]]
        _, first = np.unique(pair * n_groups + group, return_index=True)
        first.sort()
        pair, group = pair[first], group[first]
        rank = np.arange(len(pair)) - np.searchsorted(pair, pair, side="left")
        keep = rank < N_SHARED
        out[start + pair[keep], rank[keep]] = group[keep]
    return out


def explain_tier(fields: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    """Order in which shared features explain a pair: specs, brand and price band first,
    then the category (usually the same for both and obvious to the shopper). Free-text
    words get -1 and never explain: read out of context they are tokens ("make", "gb",
    "core", "chassis"), not features a shopper recognises."""
    tier = np.zeros(len(fields), dtype=np.int8)
    tier[fields == Field.WORD] = -1
    tier[fields == Field.CATEGORY] = 2
    return tier


def label_groups(
    labels: list[str], fields: npt.NDArray[np.int8]
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Features whose labels match case-insensitively form one group (the word "sony" and the
    brand "Sony"); each group is shown with the label of its first non-word feature."""
    keys, group = np.unique([label.casefold() for label in labels], return_inverse=True)
    group = np.asarray(group, dtype=np.int64).reshape(-1)
    order = np.lexsort((np.arange(len(labels)), fields == Field.WORD, group))
    starts = np.searchsorted(group[order], np.arange(len(keys)))
    return group, [labels[i] for i in order[starts]]


def fit_content(
    products: pd.DataFrame, k: int = 20, field_weights: Mapping[Field, float] | None = None
) -> ContentModel:
    """Item-item content similarity over ``products`` (items are its rows, in order).

    Keeps the ``k`` most similar items per item (cosine > 0; ties go to the lower position)
    and, for each, the shared features that explain it.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    matrix, fields, labels = feature_matrix(products, field_weights)
    similarity = _neighbours(matrix, k)
    group, display = label_groups(labels, fields)
    shared = _shared_labels(matrix, similarity, explain_tier(fields), group)
    used = np.unique(shared[shared >= 0])
    remapped = np.where(shared >= 0, np.searchsorted(used, shared), -1).astype(np.int32)
    used_labels = np.array([display[i] for i in used], dtype=np.str_)
    logger.info(
        "content: %d items, %d features, %d neighbour pairs",
        matrix.shape[0],
        matrix.shape[1],
        similarity.nnz,
    )
    return ContentModel(similarity, remapped, used_labels)


# --- serve ------------------------------------------------------------------------------


def _valid_seeds(
    model: ContentModel, seed_positions: npt.ArrayLike, seed_weights: npt.ArrayLike | None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    seeds = np.asarray(seed_positions, dtype=np.int64).reshape(-1)
    if seed_weights is None:
        weights = np.ones(len(seeds), dtype=np.float64)
    else:
        weights = np.asarray(seed_weights, dtype=np.float64).reshape(-1)
        if len(weights) != len(seeds):
            raise ValueError("seed_weights must have one weight per seed position")
    if len(seeds) and int(seeds.max()) >= model.n_items:
        raise IndexError(f"seed position {int(seeds.max())} out of range ({model.n_items} items)")
    keep = seeds >= 0
    return seeds[keep], weights[keep]


def score_content(
    model: ContentModel,
    seed_positions: npt.ArrayLike,
    seed_weights: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float32]:
    """Dense float32 (n_items,): the (weighted) sum of the seeds' similarity rows.

    Negative positions (unknown ids from ``IdIndex.positions``) are ignored. Seeds are not
    excluded from the result; filtering is the caller's job.
    """
    seeds, weights = _valid_seeds(model, seed_positions, seed_weights)
    return _seed_rows_sum(model, seeds, weights)


def score_seeds(
    model: ContentModel, seeds: npt.NDArray[np.int64], weights: npt.NDArray[np.floating[Any]]
) -> npt.NDArray[np.float32]:
    """`score_content` of the engine's seeds (int64 positions below ``n_items``, one weight
    each): the same values with one check, not the conversions a request would pay for."""
    known = seeds >= 0  # negative positions (unknown ids) are ignored, as `score_content` does
    if not known.all():
        seeds, weights = seeds[known], weights[known]
    return _seed_rows_sum(model, seeds, weights.astype(np.float64))


def _seed_rows_sum(
    model: ContentModel, seeds: npt.NDArray[np.int64], weights: npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    """The weighted sum of the valid ``seeds``' similarity rows, as float32."""
    dense = model.dense_similarity
    if dense is None or seeds.size == 0:
        return weighted_row_sum(model.similarity, seeds, weights).astype(np.float32)
    # The seeds' float64 terms added row after row (a reduction over the first axis adds
    # them in order), as `weighted_row_sum` adds a column's entries: the same values.
    summed: npt.NDArray[np.float64] = np.add.reduce(dense[seeds] * weights[:, None], axis=0)
    return summed.astype(np.float32)


def _labels(model: ContentModel, offset: int) -> tuple[str, ...]:
    ids = model.shared_features[offset]
    return tuple(str(model.feature_labels[i]) for i in ids if i >= 0)


def explain_content(
    model: ContentModel,
    seed_positions: npt.ArrayLike,
    item: int,
    seed_weights: npt.ArrayLike | None = None,
) -> ContentMatch | None:
    """The seed that contributed most to ``item``'s score (first seed on ties), its similarity
    and the features they share; None when no seed has ``item`` among its neighbours."""
    return explain_content_many(model, seed_positions, [item], seed_weights)[0]


def explain_content_many(
    model: ContentModel,
    seed_positions: npt.ArrayLike,
    items: Sequence[int],
    seed_weights: npt.ArrayLike | None = None,
) -> list[ContentMatch | None]:
    """`explain_content` for several items, gathering the seeds' rows once (a response
    explains up to ``limit`` items from the same seeds)."""
    seeds, weights = _valid_seeds(model, seed_positions, seed_weights)
    sim = model.similarity
    entries, owner = row_entries(sim.indptr, seeds)
    columns = sim.indices[entries]
    contributions = sim.data[entries].astype(np.float64) * weights[owner]
    found: list[ContentMatch | None] = []
    for item in items:
        hits = np.flatnonzero((columns == item) & (contributions > 0))
        if hits.size == 0:
            found.append(None)
            continue
        # Entries run seed after seed, so argmax (the first maximum) is the first seed on ties.
        best = int(hits[np.argmax(contributions[hits])])
        entry = int(entries[best])
        found.append(
            ContentMatch(int(seeds[owner[best]]), float(sim.data[entry]), _labels(model, entry))
        )
    return found


def neighbours(model: ContentModel, item: int, limit: int) -> list[ContentMatch]:
    """Up to ``limit`` most similar items to ``item``, most similar first (ties: lower position)."""
    sim = model.similarity
    start, stop = int(sim.indptr[item]), int(sim.indptr[item + 1])
    offsets = np.arange(start, stop)
    order = np.lexsort((sim.indices[start:stop], -sim.data[start:stop]))[: max(limit, 0)]
    return [
        ContentMatch(int(sim.indices[o]), float(sim.data[o]), _labels(model, int(o)))
        for o in offsets[order]
    ]
