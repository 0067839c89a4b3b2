"""Every stored input ends in a result: an input whose request never reached the queue is sent again.

Why: the web tier stores an input, then sends the request that names it. A process that dies
between the two leaves an input no message names. No client was given its id (an id is answered,
or remembered for an `Idempotency-Key`, only after the send: `submission`), but its result
would stay "pending" for ever, and any other loss of a request (an operator's purge, a message
outliving the queue's retention) would look the same. The sweep gives each such input its
request again, in the cloud and locally alike (every web process runs one).

How it knows, without a ledger (which would cost every upload one more write): a queue cannot
be asked whether it holds a message for an id, but a worker stores a result before it deletes
the request, and the dead-letter drainer stores the `failed` result before it deletes the dead
letter. So when the request queue and the dead-letter queue hold nothing (nothing visible,
nothing in flight) at two reads one period apart, every request sent before the first read is
settled, and an input made before it (less `margin`, for a process still between its put and
its send) that has no result has no request. Ids begin with their creation time
(`contract.new_request_id`), so a sweep lists only the inputs made since its checkpoint and the
results beside them: two sorted listings, merged, not a look-up per input.

The bound: an orphan's request is sent again within `margin` + 2 periods of the queues' next
idle moment (`WebSettings.orphan_sweep_seconds`; `margin` is two leases), then classified like
any other. Under a load that never lets the queues empty, orphans wait for the next lull. A
sweep that is wrong (a queue count that lags) costs one more classification of the same id,
never a second answer: results are idempotent by id.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator

from services.contract import RequestMessage, as_precision, id_floor
from services.periodic import Periodic
from services.ports.storage import BlobNotFoundError, BlobStore, MessageQueue

log = logging.getLogger(__name__)

CHECKPOINT = "sweep-checkpoint"  # in the input bucket: every input below it has been checked
_ID = re.compile(r"[0-9a-f]{32}")


def _merge_missing(inputs: Iterator[str], outputs: Iterator[str]) -> Iterator[str]:
    """The keys of `inputs` that are not in `outputs` (both ascending)."""
    output = next(outputs, None)
    for key in inputs:
        while output is not None and output < key:
            output = next(outputs, None)
        if key != output:
            yield key


class OrphanSweep:
    def __init__(
        self,
        *,
        inputs: BlobStore,
        outputs: BlobStore,
        requests: MessageQueue,
        dead_letters: MessageQueue,
        reply_to: str,
        period: float,
        margin: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._inputs = inputs
        self._outputs = outputs
        self._requests = requests
        self._dead_letters = dead_letters
        self._reply_to = reply_to
        self._margin = margin
        self._clock = clock
        self._idle_since: float | None = None  # the earlier of two idle reads
        self._checked: str | None = None  # the checkpoint, once read
        self._periodic = Periodic(self._sweep_or_restart, every=period, name="orphan-sweep")
        self.resent = 0

    def sweep(self) -> int:
        """One period's look: how many orphans were sent again (blocking)."""
        now = self._clock()
        if self._requests.depth().outstanding or self._dead_letters.depth().outstanding:
            self._idle_since = None
            return 0
        if self._idle_since is None:
            self._idle_since = now
            return 0
        below, self._idle_since = id_floor(self._idle_since - self._margin), now
        after = self._checkpoint()
        if below <= after:
            return 0
        listed = [key for key in self._inputs.keys_between(after, below) if _ID.fullmatch(key)]
        results = self._outputs.keys_between(after, below)
        orphans = list(_merge_missing(iter(listed), results))
        for key in orphans:
            self._send_again(key)
        if listed:  # nothing new: no write (the checkpoint moves on in memory)
            self._inputs.put(CHECKPOINT, below.encode(), content_type="text/plain")
        self._checked = below
        self.resent += len(orphans)
        return len(orphans)

    def _checkpoint(self) -> str:
        if self._checked is None:
            try:
                self._checked = self._inputs.get(CHECKPOINT).data.decode()
            except BlobNotFoundError:
                self._checked = ""  # never swept: from the first input on
        return self._checked

    def _send_again(self, key: str) -> None:
        if self._outputs.exists(key):  # answered since the listing
            return
        try:
            metadata = self._inputs.get(key).metadata
        except BlobNotFoundError:  # expired since the listing
            return
        name, model = metadata.get("filename") or key, metadata.get("model") or None
        precision = as_precision(metadata.get("precision"))
        message = RequestMessage(
            id=key, image=name, reply_to=self._reply_to, model=model, precision=precision
        )
        self._requests.send(message.model_dump_json())
        log.warning(
            "input %s (%s) had no request (its web process died before sending it): sent again",
            key,
            name,
        )

    def _sweep_or_restart(self) -> None:
        try:
            self.sweep()
        except Exception:
            self._idle_since = None  # a failed look proves nothing: watch for idleness anew
            raise

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()

    def __enter__(self) -> OrphanSweep:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
