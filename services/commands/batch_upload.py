"""`evision batch ./photos --url ...`: the folder staged through the service's upload URLs.

The folder's files (hidden ones skipped, as a folder job skips them) are asked for in sorted
calls of at most the service's per-call count; the service answers, per file, `present` (stored
with that size already: skipped) or a signed URL, and the missing files are PUT in parallel.
Resumable: the upload id is derived from the service and the folder, so a rerun asks about the
same keys and uploads only what is missing (a PUT is atomic: a present key is whole).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

PER_CALL = 100  # the service may take fewer: it says so (max_files) and refuses more
PUT_ATTEMPTS = 3  # a transport error or a 5xx is tried again; a refusal (4xx) is not


class UploadFailedError(Exception):
    """The service refused, or a PUT failed: the message says which and why."""


@dataclass
class Staged:
    source: str  # the job source to POST (upload:<id>)
    files: int
    uploaded: int
    skipped: int
    fingerprint: str  # of the names and sizes: a changed folder is another job


def local_files(folder: Path) -> list[tuple[str, int]]:
    """(relative POSIX name, size) of the folder's files, sorted, hidden ones skipped."""
    found: list[tuple[str, int]] = []
    for directory, subdirectories, names in os.walk(folder):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        relative = Path(directory).relative_to(folder)
        for name in names:
            if not name.startswith("."):
                path = Path(directory) / name
                found.append(((relative / name).as_posix().removeprefix("./"), path.stat().st_size))
    return sorted(found)


def upload_id(base_url: str, folder: Path) -> str:
    return hashlib.sha256(f"{base_url}|{folder.resolve()}".encode()).hexdigest()[:32]


def _refusal(response: httpx.Response) -> str:
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        return f"{response.status_code}: {response.text[:200]}"
    return f"{response.status_code} {body.get('error')}: {body.get('reason')}"


def stage_folder(
    client: httpx.Client,
    folder: Path,
    *,
    parallel: int,
    on_start: Callable[[int], None],
    on_file: Callable[[bool], None],
) -> Staged:
    """Upload what the service does not have yet; `on_file(uploaded)` after each file."""
    files = local_files(folder)
    on_start(len(files))
    upload = upload_id(str(client.base_url).rstrip("/"), folder)
    fingerprint = hashlib.sha256(repr(files).encode()).hexdigest()
    uploaded = skipped = 0
    source = f"upload:{upload}"
    with httpx.Client(timeout=120) as direct, ThreadPoolExecutor(max_workers=parallel) as pool:

        def put(target: dict[str, Any]) -> None:
            data = (folder / target["name"]).read_bytes()
            if len(data) != target["size"]:
                raise UploadFailedError(f"{target['name']} changed while uploading: run again")
            url: str = target["url"]
            # A path is on the service itself (it receives the PUT): send the client's API key too.
            sender = client if url.startswith("/") else direct
            for attempt in range(1, PUT_ATTEMPTS + 1):  # a PUT is idempotent: retry what may pass
                try:
                    response = sender.put(url, content=data, headers=target["headers"])
                except httpx.TransportError:
                    if attempt == PUT_ATTEMPTS:
                        raise
                else:
                    if response.status_code in (200, 204):
                        return
                    if response.status_code < 500 or attempt == PUT_ATTEMPTS:
                        raise UploadFailedError(f"PUT {target['name']}: {_refusal(response)}")
                time.sleep(0.5 * 2**attempt)

        pending: set[Future[None]] = set()

        def settle(block_until: int) -> None:
            nonlocal uploaded
            while len(pending) > block_until:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.discard(future)
                    future.result()  # raises the PUT's failure
                    uploaded += 1
                    on_file(True)

        step = PER_CALL
        for start in range(0, len(files), step):
            batch = files[start : start + step]
            ask = {"upload": upload, "files": [{"name": n, "size": s} for n, s in batch]}
            response = client.post("/v1/jobs/uploads", json=ask)
            if response.status_code != 200:
                raise UploadFailedError(f"the service refused the upload: {_refusal(response)}")
            plan = response.json()
            source = plan["source"]
            for target in plan["files"]:
                if target["present"]:
                    skipped += 1
                    on_file(False)
                else:
                    pending.add(pool.submit(put, target))
            settle(block_until=2 * step)  # a bounded backlog: URLs are used well before they expire
        settle(block_until=0)
    return Staged(source, len(files), uploaded, skipped, fingerprint)
