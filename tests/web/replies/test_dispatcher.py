"""The reply dispatcher against a real (local) queue: resolves by id, drops unknown and malformed replies."""

from __future__ import annotations

import asyncio
import time

from services.contract import ReplyMessage, Result
from services.ports.backend import Backend
from services.ports.storage import MessageQueue
from services.web.replies.dispatcher import ReplyDispatcher
from tests.fixtures import WEB_REPLY_QUEUE


def _reply(request_id: str, label: str) -> str:
    return ReplyMessage(
        id=request_id, result=Result(id=request_id, image="x.jpg", label=label)
    ).model_dump_json()


async def _drained(queue: MessageQueue) -> None:
    for _ in range(200):
        if queue.depth().outstanding == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"replies left in the queue: {queue.depth()}")


def test_stop_ends_the_long_poll_at_once(replies_backend: Backend) -> None:
    async def scenario() -> float:
        dispatcher = ReplyDispatcher(replies_backend.storage.queue(WEB_REPLY_QUEUE), poll_seconds=20)
        dispatcher.start(asyncio.get_running_loop())
        await asyncio.sleep(0.2)  # now inside its long poll
        started = time.monotonic()
        dispatcher.stop()
        assert not dispatcher.alive
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 2


def test_resolves_waiting_requests_by_id_and_deletes_every_reply(replies_backend: Backend) -> None:
    replies = replies_backend.storage.queue(WEB_REPLY_QUEUE)

    async def scenario() -> list[Result]:
        dispatcher = ReplyDispatcher(replies, poll_seconds=0.5)
        dispatcher.start(asyncio.get_running_loop())
        try:
            first, second = dispatcher.register("a" * 32), dispatcher.register("b" * 32)
            # Out of order, plus one nobody waits for and one that is not a reply at all.
            replies.send_batch([_reply("b" * 32, "beagle"), _reply("c" * 32, "lost"), "not json"])
            replies.send(_reply("a" * 32, "tabby"))
            results = await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
            await _drained(replies)  # unknown and malformed replies were deleted too
            return list(results)
        finally:
            dispatcher.stop()

    results = asyncio.run(scenario())
    assert [(r.id, r.label) for r in results] == [("a" * 32, "tabby"), ("b" * 32, "beagle")]


def test_forgotten_request_is_not_resolved(replies_backend: Backend) -> None:
    replies = replies_backend.storage.queue(WEB_REPLY_QUEUE)

    async def scenario() -> bool:
        dispatcher = ReplyDispatcher(replies, poll_seconds=0.5)
        dispatcher.start(asyncio.get_running_loop())
        try:
            future = dispatcher.register("d" * 32)
            dispatcher.forget("d" * 32)  # e.g. the request already answered 202
            replies.send(_reply("d" * 32, "late"))
            await _drained(replies)
            return future.done()
        finally:
            dispatcher.stop()
            assert not dispatcher.alive

    assert asyncio.run(scenario()) is False
