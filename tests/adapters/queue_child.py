"""A queue client run as a separate process by the tests; settings come from EVISION_* variables.

python -m tests.adapters.queue_child consume QUEUE      # print bodies until the queue stays empty
python -m tests.adapters.queue_child hold QUEUE N VT    # take N messages, print "held", then hang
python -m tests.adapters.queue_child send QUEUE DELAY BODY
"""

from __future__ import annotations

import sys
import time

from services.adapters.registry import open_backend
from services.settings import BackendSettings


def main(argv: list[str]) -> int:
    mode, queue_name, *rest = argv
    queue = open_backend(BackendSettings()).storage.queue(queue_name)
    if mode == "consume":
        print("ready", flush=True)
        empty_polls = 0
        while empty_polls < 2:
            messages = queue.receive(10, wait_seconds=0.5)
            empty_polls = 0 if messages else empty_polls + 1
            for message in messages:
                print(message.body, flush=False)
            queue.delete_batch([m.receipt for m in messages])
            if messages:
                # A little work per batch, like a real consumer: without it one process can drain
                # the whole queue before the others are scheduled on a busy 2-core machine.
                time.sleep(0.005)
        sys.stdout.flush()
    elif mode == "hold":
        count, timeout = int(rest[0]), float(rest[1])
        held = 0
        while held < count:
            held += len(queue.receive(count - held, wait_seconds=1, visibility_timeout=timeout))
        print("held", flush=True)
        time.sleep(3600)
    elif mode == "send":
        time.sleep(float(rest[0]))
        queue.send(rest[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
