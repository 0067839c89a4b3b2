"""Request ids: 32 hex digits, unguessable, and sorted by their creation time."""

from __future__ import annotations

import re

from services.contract import id_floor, new_request_id


def test_ids_are_hex_and_sort_by_creation_time() -> None:
    ids = [new_request_id(1_800_000_000.0 + step / 1000) for step in range(0, 5000, 7)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)
    assert ids == sorted(ids)
    assert len(set(new_request_id(1_800_000_000.0) for _ in range(1000))) == 1000  # the random part


def test_the_floor_of_a_time_sorts_between_older_and_newer_ids() -> None:
    floor = id_floor(1_800_000_000.0)
    assert new_request_id(1_799_999_999.999) < floor <= new_request_id(1_800_000_000.0)
    assert floor < "idem-" and floor < "sweep-checkpoint"  # other keys of the input bucket sort above
