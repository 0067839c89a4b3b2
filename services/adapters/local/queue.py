"""A message queue with SQS semantics in one SQLite database (WAL), safe for many processes.

- Durability: every operation is one committed transaction. WAL with synchronous=NORMAL survives
  any process crash (a SIGKILLed worker loses nothing: its messages reappear when their
  visibility timeout expires); only an OS crash/power loss may drop the last few commits.
- Exclusivity: receive runs in `BEGIN IMMEDIATE` (the database write lock), so two processes can
  never take the same visible message. A cheap read-only peek runs first so idle receivers do not
  contend for that lock.
- Per-queue configuration (visibility timeout, dead-letter target, max receives) lives in the
  `queues` table, written by `ensure`, so every process sees the same settings.
- Dead-lettering follows SQS: the receive that would exceed `max_receives` moves the message to
  the dead-letter queue instead of delivering it.
- Long polling: see `doorbell` (senders ring waiting receivers; receivers also wake on their own
  when the earliest in-flight message becomes visible again, and at least every second).
- sqlite3 connections are not shared between threads: each thread has its own, re-created after
  fork.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.adapters.errors import ResourceNotFoundError
from services.adapters.local import doorbell
from services.adapters.names import check_name
from services.ports.storage import Message, QueueDepth

MAX_BATCH = 10  # same limit as SQS, so code written against one backend works on the other
BUSY_TIMEOUT_MS = 30_000
# With a doorbell, a receiver still wakes this often in case a ring was lost (e.g. a sender on
# a platform without doorbells). Without one, it polls at POLL_INTERVAL.
SAFETY_NAP = 1.0
POLL_INTERVAL = 0.005

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    visibility_timeout REAL NOT NULL,
    max_receives INTEGER NOT NULL,
    dead_letter TEXT,
    alive_at REAL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    holder INTEGER
);
CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (queue, visible_at);
CREATE TABLE IF NOT EXISTS waiters (address TEXT PRIMARY KEY, queue TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS waiters_by_queue ON waiters (queue);
"""


@dataclass(frozen=True, slots=True)
class QueueConfig:
    visibility_timeout: float
    max_receives: int
    dead_letter: str | None


class _Held:
    """One thread's connection. When the thread ends, its thread-local state goes, and with it
    this holder and the connection (sqlite3 closes a connection it frees): pool threads come and
    go in a web server, and each kept connection would hold three files open for ever."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


_INHERITED: list[_Held] = []  # connections a forked child got from its parent: kept, not closed


class _ThreadState(threading.local):
    pid: int = -1
    held: _Held | None = None
    ringer: doorbell.Ringer | None = None
    bells: dict[str, doorbell.Doorbell]


class QueueDatabase:
    """The SQLite file shared by all local queues of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "queues.sqlite3"
        self._local = _ThreadState()
        self._all: weakref.WeakSet[_Held] = weakref.WeakSet()  # to close them all; not to keep them
        self._lock = threading.Lock()
        conn = self.connection()
        conn.executescript(_SCHEMA)  # idempotent; executescript commits by itself
        # Data directories from before holders (and reply queues' liveness) were recorded:
        for table, column, kind in (("messages", "holder", "INTEGER"), ("queues", "alive_at", "REAL")):
            if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    # -- per-thread resources ------------------------------------------------------------------
    def _state(self) -> _ThreadState:
        state = self._local
        if state.pid != os.getpid():  # new thread, or inherited across fork: start afresh
            if state.held is not None:  # the parent's: never used, and never closed, in a child
                _INHERITED.append(state.held)  # (SQLite: a connection must not cross a fork)
            state.pid = os.getpid()
            state.held = None
            state.ringer = None
            state.bells = {}
        return state

    def connection(self) -> sqlite3.Connection:
        state = self._state()
        if state.held is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            state.held = _Held(conn)
            with self._lock:
                self._all.add(state.held)
        return state.held.conn

    def open_connections(self) -> int:
        """Connections of live threads (this process), for the tests."""
        with self._lock:
            return len(self._all)

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the database lock from its start (BEGIN IMMEDIATE).

        Safe against an exception at ANY point, also one a signal handler raises between two
        statements (the worker leaves a long poll that way on SIGTERM): a transaction begun and
        not committed is rolled back, so the lock never outlives the call. Had one been left
        open on this thread's connection anyway, the next write rolls it back first. (In CI, a
        drained worker kept the lock after its last receive: every other process waited 30 s.)
        """
        conn = self.connection()
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._begin(conn)
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _begin(conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, retried: SQLite answers "database is locked" at once, without its busy
        handler, where waiting could deadlock (e.g. a WAL snapshot another process just moved on
        from); seen here under a burst with many writers. A later attempt succeeds."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        pause = 0.001
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def read_one(self, query: str, args: tuple[object, ...]) -> tuple[Any, ...] | None:
        """One row, with the statement finished at once: an unfinished read would hold a WAL
        snapshot that makes this thread's next write transaction fail."""
        with contextlib.closing(self.connection().execute(query, args)) as cursor:
            row: tuple[Any, ...] | None = cursor.fetchone()
            return row

    def bell(self, queue: str) -> doorbell.Doorbell | None:
        """This thread's doorbell for `queue`, registered so senders ring it."""
        if not doorbell.SUPPORTED:
            return None
        state = self._state()
        bell = state.bells.get(queue)
        if bell is None:
            bell = doorbell.Doorbell()
            with self.write() as conn:
                conn.execute("INSERT OR REPLACE INTO waiters VALUES (?, ?)", (bell.address, queue))
            state.bells[queue] = bell
        return bell

    def ring(self, addresses: Sequence[str]) -> None:
        if not addresses or not doorbell.SUPPORTED:
            return
        state = self._state()
        if state.ringer is None:
            state.ringer = doorbell.Ringer()
        dead = state.ringer.ring(addresses)
        if dead:
            with self.write() as conn:
                conn.executemany("DELETE FROM waiters WHERE address = ?", [(a,) for a in dead])

    # -- configuration -------------------------------------------------------------------------
    def create_queue(self, name: str, config: QueueConfig, *, alive_at: float | None = None) -> None:
        """Create the queue or update its configuration. `alive_at`: a reply queue's first liveness
        mark (queues without one are never idle)."""
        check_name(name, "queue name")
        with self.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO queues VALUES (?, ?, ?, ?, ?)",
                (name, config.visibility_timeout, config.max_receives, config.dead_letter, alive_at),
            )

    def mark_alive(self, name: str, now: float) -> None:
        with self.write() as conn:
            conn.execute("UPDATE queues SET alive_at = ? WHERE name = ?", (now, name))

    def idle_queues(self, prefix: str, since: float) -> list[str]:
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"
        with contextlib.closing(
            self.connection().execute(
                "SELECT name FROM queues WHERE name LIKE ? ESCAPE '\\' AND alive_at < ?", (pattern, since)
            )
        ) as cursor:
            return [row[0] for row in cursor.fetchall()]

    def delete_queue(self, name: str) -> None:
        with self.write() as conn:
            for table, column in (("messages", "queue"), ("waiters", "queue"), ("queues", "name")):
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))

    def queue_config(self, name: str) -> QueueConfig:
        query = "SELECT visibility_timeout, max_receives, dead_letter FROM queues WHERE name = ?"
        row = self.read_one(query, (name,))
        if row is None:
            raise ResourceNotFoundError(f"queue {name!r} does not exist in {self.path}")
        return QueueConfig(float(row[0]), int(row[1]), row[2])

    def close(self) -> None:
        with self._lock:
            held, self._all = list(self._all), weakref.WeakSet()
        for each in held:
            each.conn.close()
        state = self._state()
        for bell in state.bells.values():
            bell.close()
        state.bells = {}
        state.held = None


def _waiters(conn: sqlite3.Connection, queue: str) -> list[str]:
    return [row[0] for row in conn.execute("SELECT address FROM waiters WHERE queue = ?", (queue,))]


class LocalQueue:
    def __init__(self, db: QueueDatabase, name: str) -> None:
        self._db = db
        self._name = name
        db.queue_config(name)  # fail now, like SQS get_queue_url, if it was never created

    @property
    def name(self) -> str:
        return self._name

    def send(self, body: str) -> str:
        message_id = uuid.uuid4().hex
        self._insert([(message_id, body)])
        return message_id

    def send_batch(self, bodies: Sequence[str]) -> None:
        if bodies:
            self._insert([(uuid.uuid4().hex, body) for body in bodies])

    def _insert(self, messages: list[tuple[str, str]]) -> None:
        now = time.time()
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM queues WHERE name = ?", (self._name,)).fetchone() is None:
                # e.g. a reply to a web process whose queue has since been deleted, as on SQS
                raise ResourceNotFoundError(f"queue {self._name!r} does not exist in {self._db.path}")
            conn.executemany(
                "INSERT INTO messages (queue, id, body, sent_at, visible_at) VALUES (?, ?, ?, ?, ?)",
                [(self._name, message_id, body, now, now) for message_id, body in messages],
            )
            waiters = _waiters(conn, self._name)
        self._db.ring(waiters)

    def receive(
        self, max_messages: int = 10, wait_seconds: float = 20.0, visibility_timeout: float | None = None
    ) -> list[Message]:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        limit = min(max_messages, MAX_BATCH)
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        bell = self._db.bell(self._name) if wait_seconds > 0 else None
        while True:
            if bell is not None:
                bell.drain()  # rings from before this look are answered by it
            messages, next_visible_in = self._receive_now(limit, visibility_timeout)
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                return messages
            nap = min(remaining, SAFETY_NAP if bell is not None else POLL_INTERVAL)
            if next_visible_in is not None:
                nap = min(nap, next_visible_in)
            if bell is not None:
                bell.wait(nap)
            else:
                time.sleep(nap)

    def _receive_now(
        self, limit: int, visibility_timeout: float | None
    ) -> tuple[list[Message], float | None]:
        """Take up to `limit` visible messages; else return when the next in-flight one reappears."""
        now = time.time()
        peek = "SELECT 1 FROM messages WHERE queue = ? AND visible_at <= ? LIMIT 1"
        if self._db.read_one(peek, (self._name, now)) is None:
            row = self._db.read_one(
                "SELECT min(visible_at) FROM messages WHERE queue = ? AND visible_at > ?", (self._name, now)
            )
            earliest = None if row is None else row[0]
            return [], (None if earliest is None else max(earliest - now, 0.0))
        delivered: list[Message] = []
        dlq_waiters: list[str] = []
        holder = os.getpid()  # who holds them: the supervisor releases a crashed worker's at once
        with self._db.write() as conn:
            config = self._db.queue_config(self._name)
            timeout = config.visibility_timeout if visibility_timeout is None else visibility_timeout
            now = time.time()
            while not delivered:
                rows = conn.execute(
                    "SELECT seq, id, body, receive_count FROM messages"
                    " WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?",
                    (self._name, now, limit),
                ).fetchall()
                if not rows:
                    break
                expired = [r for r in rows if config.dead_letter and r[3] >= config.max_receives]
                if expired:
                    conn.executemany(
                        "UPDATE messages SET queue = ?, visible_at = ?, receipt = NULL WHERE seq = ?",
                        [(config.dead_letter, now, r[0]) for r in expired],
                    )
                    dlq_waiters = _waiters(conn, str(config.dead_letter))
                updates = []
                for seq, message_id, body, count in rows:
                    if config.dead_letter and count >= config.max_receives:
                        continue
                    receipt = f"{seq}.{uuid.uuid4().hex}"
                    updates.append((now + timeout, receipt, holder, seq))
                    delivered.append(Message(message_id, receipt, body, count + 1))
                conn.executemany(
                    "UPDATE messages SET visible_at = ?, receipt = ?, holder = ?,"
                    " receive_count = receive_count + 1 WHERE seq = ?",
                    updates,
                )
        self._db.ring(dlq_waiters)
        return delivered, None

    def delete_batch(self, receipts: Sequence[str]) -> None:
        """Delete received messages. A stale receipt (message since redelivered) is ignored, as in SQS."""
        if receipts:
            with self._db.write() as conn:
                conn.executemany(
                    "DELETE FROM messages WHERE seq = ? AND receipt = ?", [(_seq(r), r) for r in receipts]
                )

    def extend_visibility(self, receipts: Sequence[str], seconds: float) -> None:
        if not receipts:
            return
        visible_at = time.time() + max(seconds, 0.0)
        with self._db.write() as conn:
            conn.executemany(
                "UPDATE messages SET visible_at = ? WHERE seq = ? AND receipt = ?",
                [(visible_at, _seq(r), r) for r in receipts],
            )
            waiters = _waiters(conn, self._name) if seconds <= 0 else []
        self._db.ring(waiters)

    def release_held_by(self, process_id: int) -> int:
        """Make every message that process `process_id` (on this machine) holds visible now."""
        now = time.time()
        with self._db.write() as conn:
            released = conn.execute(
                "UPDATE messages SET visible_at = ?, holder = NULL"
                " WHERE queue = ? AND holder = ? AND visible_at > ?",
                (now, self._name, process_id, now),
            ).rowcount
            waiters = _waiters(conn, self._name) if released else []
        self._db.ring(waiters)
        return released

    def depth(self) -> QueueDepth:
        row = self._db.read_one(
            "SELECT coalesce(sum(visible_at <= ?1), 0), coalesce(sum(visible_at > ?1), 0)"
            " FROM messages WHERE queue = ?2",
            (time.time(), self._name),
        )
        visible, in_flight = row if row is not None else (0, 0)
        return QueueDepth(visible=int(visible), in_flight=int(in_flight))


def _seq(receipt: str) -> int:
    seq, dot, _ = receipt.partition(".")
    if not dot or not seq.isdigit():
        raise ValueError(f"not a receipt of this queue: {receipt!r}")
    return int(seq)
