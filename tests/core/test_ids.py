"""`IdIndex`: positions of store ids, ascending or not, known or not."""

from __future__ import annotations

import time
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


def test_new_request_id_is_a_version_7_uuid_in_hex_of_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_request_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert parsed.hex == value  # 32 lower-case hex digits
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after  # the 48-bit Unix millisecond
    assert len(set(ids)) == len(ids)
    # ids made in later milliseconds sort later (an index on them grows at its end)
    stamps = [int(value[:12], 16) for value in ids]
    assert stamps == sorted(stamps)


def test_request_ids_of_one_millisecond_differ_in_74_random_bits() -> None:
    ids = [int(new_request_id(), 16) for _ in range(4000)]
    random_part = [value & ((1 << 80) - 1) & ~((0xF << 76) | (0x3 << 62)) for value in ids]
    seen_bits = 0
    for value in random_part:
        seen_bits |= value
    assert seen_bits == ((1 << 80) - 1) & ~((0xF << 76) | (0x3 << 62))  # every random bit varies
