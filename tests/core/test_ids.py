"""`IdIndex`: positions of store ids, ascending or not, known or not."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from recograph.core.ids import IdIndex, new_request_id


@pytest.mark.parametrize("ascending", [True, False])
def test_positions_and_position_agree_with_a_dict(ascending: bool) -> None:
    ids = np.arange(1, 2001, dtype=np.int64) * 3
    if not ascending:
        np.random.default_rng(7).shuffle(ids)
    index = IdIndex(ids)
    expected = {int(id_): position for position, id_ in enumerate(ids)}
    queries = [3, 4, 6000, 6003, 0, -7, 5997, *ids[:50].tolist()]
    want = [expected.get(q, -1) for q in queries]
    assert index.positions(np.array(queries)).tolist() == want
    assert [index.position(q) for q in queries] == [None if w < 0 else w for w in want]


def test_an_empty_index_knows_no_id() -> None:
    index = IdIndex(np.array([], dtype=np.int64))
    assert index.positions([1, 2]).tolist() == [-1, -1]
    assert index.position(1) is None


def test_ids_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        IdIndex(np.array([1, 2, 2], dtype=np.int64))


def test_new_request_id_is_a_version_4_uuid_in_hex() -> None:
    ids = [new_request_id() for _ in range(2000)]
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert parsed.hex == value  # 32 lower-case hex digits, as uuid4().hex
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    assert len(set(ids)) == len(ids)
