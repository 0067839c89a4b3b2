"""Request ids: 32 hex digits, unguessable, and sorted by their creation time."""

from __future__ import annotations

import re

from services.contract import CONTRACT_VERSION, ReplyMessage, RequestMessage, Result, id_floor, new_request_id


def test_ids_are_hex_and_sort_by_creation_time() -> None:
    ids = [new_request_id(1_800_000_000.0 + step / 1000) for step in range(0, 5000, 7)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)
    assert ids == sorted(ids)
    assert len(set(new_request_id(1_800_000_000.0) for _ in range(1000))) == 1000  # the random part


def test_the_floor_of_a_time_sorts_between_older_and_newer_ids() -> None:
    floor = id_floor(1_800_000_000.0)
    assert new_request_id(1_799_999_999.999) < floor <= new_request_id(1_800_000_000.0)
    assert floor < "idem-" and floor < "sweep-checkpoint"  # other keys of the input bucket sort above


def test_messages_one_version_apart_are_understood_both_ways() -> None:
    """During a rollout web processes and workers of two versions meet (the web group rolls while
    the workers refresh): a message of the next version, with fields this one does not know, is
    read by this one; and one of the previous shape (no optional field) by the next."""
    newer_request = (
        f'{{"v": {CONTRACT_VERSION + 1}, "id": "{"a" * 32}", "image": "cat.jpg", '
        '"reply_to": "replies-1", "submitted_at": 1.0, "model": "lite2@2", "priority": 3}'
    )
    request = RequestMessage.model_validate_json(newer_request)
    assert (request.id, request.image, request.reply_to) == ("a" * 32, "cat.jpg", "replies-1")
    older_request = f'{{"v": {CONTRACT_VERSION}, "id": "{"b" * 32}", "image": "x.png", "reply_to": "r"}}'
    older = RequestMessage.model_validate_json(older_request)
    assert older.submitted_at > 0 and older.precision == "auto"  # filled in
    newer_result = Result(id="c" * 32, image="cat.jpg", label="tabby", score=0.9).model_dump()
    newer_result.update(v=CONTRACT_VERSION + 1, engine="openvino-bf16", model_version="2")
    reply = ReplyMessage.model_validate({"v": CONTRACT_VERSION + 1, "id": "c" * 32, "result": newer_result})
    assert reply.result.label == "tabby" and reply.result.ok
