"""Where a job's objects live in the output bucket, and reading and writing them.

Flat keys (the local store's keys are single file names), in families that list apart:
`jobrec-<id>` the record, `jobshard-<id>-<index>` one shard per chunk (rewriting a chunk's shard
replaces it: a chunk processed twice never duplicates a line), `jobfail-<id>-<index>-<n>` a
marker for a shard with n failed images (so progress needs no shard read), `jobdone-<id>` the
manifest, `jobcancel-<id>` the mark of a cancel (`lifecycle`: it makes a cancel win). Job ids
sort by creation time (they are request ids), so listings are in that order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from services.jobs.contract import JobRecord, Manifest, ShardLine
from services.ports.storage import BlobNotFoundError, BlobStore

JSON = "application/json"
JSON_LINES = "application/x-ndjson"
INDEX_DIGITS = 8


def _shard_key(job: str, index: int) -> str:
    return f"jobshard-{job}-{index:0{INDEX_DIGITS}d}"


def _after(prefix: str) -> str:
    """The smallest key above every key that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class JobStore:
    def __init__(self, outputs: BlobStore) -> None:
        self._outputs = outputs

    # -- the record -----------------------------------------------------------------------------
    def put_record(self, record: JobRecord) -> None:
        self._outputs.put(f"jobrec-{record.id}", record.model_dump_json().encode(), content_type=JSON)

    def record(self, job: str) -> JobRecord | None:
        try:
            return JobRecord.model_validate_json(self._outputs.get(f"jobrec-{job}").data)
        except BlobNotFoundError:
            return None

    def put_cancel_marker(self, job: str) -> None:
        self._outputs.put(f"jobcancel-{job}", b"", content_type=JSON)

    def cancel_requested(self, job: str) -> bool:
        return self._outputs.exists(f"jobcancel-{job}")

    def job_ids(self) -> Iterator[str]:
        prefix = "jobrec-"
        for key in self._outputs.keys_between(prefix, _after(prefix)):
            yield key.removeprefix(prefix)

    # -- shards ---------------------------------------------------------------------------------
    def put_shard(self, job: str, index: int, lines: Iterable[ShardLine]) -> int:
        """Write chunk `index`'s shard (then its failure marker); how many lines failed."""
        lines = list(lines)
        body = "".join(line.model_dump_json(exclude_none=True) + "\n" for line in lines)
        self._outputs.put(_shard_key(job, index), body.encode(), content_type=JSON_LINES)
        failed = sum(line.error is not None for line in lines)
        if failed:
            self._outputs.put(f"jobfail-{job}-{index:0{INDEX_DIGITS}d}-{failed}", b"", content_type=JSON)
        return failed

    def shard_indices(self, job: str) -> set[int]:
        prefix = f"jobshard-{job}-"
        return {int(key.removeprefix(prefix)) for key in self._outputs.keys_between(prefix, _after(prefix))}

    def failed_count(self, job: str) -> int:
        """Failed images so far (one marker per shard index; a rewritten shard counts once)."""
        prefix = f"jobfail-{job}-"
        per_index: dict[str, int] = {}
        for key in self._outputs.keys_between(prefix, _after(prefix)):
            index, _, count = key.removeprefix(prefix).partition("-")
            per_index[index] = int(count)
        return sum(per_index.values())

    def has_shard(self, job: str, index: int) -> bool:
        return self._outputs.exists(_shard_key(job, index))

    def shard(self, job: str, index: int) -> bytes:
        return self._outputs.get(_shard_key(job, index)).data

    # -- the manifest ---------------------------------------------------------------------------
    def put_manifest(self, manifest: Manifest) -> None:
        self._outputs.put(f"jobdone-{manifest.job}", manifest.model_dump_json().encode(), content_type=JSON)

    def manifest(self, job: str) -> Manifest | None:
        try:
            return Manifest.model_validate_json(self._outputs.get(f"jobdone-{job}").data)
        except BlobNotFoundError:
            return None
