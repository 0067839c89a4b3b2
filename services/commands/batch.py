"""`evision batch SRC --out DST`: a batch job against a running service, with a progress bar.

SRC is a folder under the service's jobs root (`evision up --jobs-root DIR`), an
s3://bucket/prefix (the aws backend), or a folder on this machine the service cannot read:
then it is uploaded first (`batch_upload`: signed URLs from the service, parallel PUTs, a rerun
uploads only what is missing) and the job runs over the upload. That happens with `--upload`,
for a folder and a service that is not on this machine, and when the service refuses the folder
(it has no jobs root, or the folder is not under it). The job's idempotency key is derived from SRC and the
options, so running the same command again resumes the job (or fetches its results) instead of
starting another; `--key` names one explicitly. When the job ends, DST gets `results.jsonl`
(one line per image, in chunk order) and `_SUCCESS.json` (the counts). Exit 0 when every image
was classified, 1 when some failed (their lines carry an "error"), 2 when the job could not run.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx
    from rich.console import Console

DEFAULT_URL = "http://127.0.0.1:8000"


# A progress poll is one read of the job record: often enough that the command returns within
# a fraction of a second of the job's end.
POLL_SECONDS = 0.25


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", metavar="SRC", help="a folder (absolute, under the jobs root) or s3://bucket/prefix"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DST", help="where results.jsonl goes")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the service (default {DEFAULT_URL})")
    parser.add_argument("--top-k", type=int, default=5, help="labels per image (1-5, default 5)")
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "int8"),  # the contract's PRECISIONS (the CLI starts without pydantic)
        default="auto",
        help="auto (default): the service's engine; fp32: the fp32 reference; int8: the model's int8 variant",
    )
    parser.add_argument("--key", help="the job's Idempotency-Key (default: derived from SRC and options)")
    parser.add_argument(
        "--timeout", type=float, default=24 * 3600.0, metavar="S", help="give up after S seconds"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--upload",
        action="store_true",
        help="upload the folder to the service first (the default for a service on another machine, "
        "or one that refuses the folder)",
    )
    parser.add_argument("--parallel", type=int, default=8, metavar="N", help="parallel uploads (default 8)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("EVISION_API_KEY"),
        help="the service's API key (default: $EVISION_API_KEY), sent as X-API-Key",
    )


def _source(given: str) -> str:
    return given if given.startswith("s3://") else str(Path(given).absolute())


def _on_this_machine(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(response: httpx.Response) -> str:
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        return f"{response.status_code}: {response.text[:200]}"
    return f"{response.status_code} {body.get('error')}: {body.get('reason')}"


def _spec(source: str, args: argparse.Namespace) -> dict[str, Any]:
    """The job spec; a precision only when pinned, so an unpinned run keeps its earlier key."""
    pinned = {"precision": args.precision} if args.precision != "auto" else {}
    return {"source": source, "top_k": args.top_k, **pinned}


def _create(client: httpx.Client, spec: dict[str, Any], key: str) -> httpx.Response:
    return client.post("/v1/jobs", json=spec, headers={"Idempotency-Key": key})


def _key(spec: dict[str, Any], *extra: str) -> str:
    text = json.dumps(spec, sort_keys=True) + "".join(extra)
    return "batch-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def run(args: argparse.Namespace) -> int:
    import httpx
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True, highlight=False)
    base = args.url.rstrip("/")
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[speed]}"),
        TimeRemainingColumn(),
    )
    with (
        httpx.Client(base_url=base, timeout=60, headers=headers) as client,
        Progress(*columns, console=console, disable=args.no_progress) as progress,
    ):
        folder = None if args.source.startswith("s3://") else Path(args.source)
        upload = folder is not None and folder.is_dir() and (args.upload or not _on_this_machine(base))
        source = _source(args.source)
        spec = _spec(source, args)
        created = None
        if not upload:
            try:
                created = _create(client, spec, args.key or _key(spec))
            except httpx.HTTPError as exc:
                console.print(
                    f"[red]evision batch: no service at {base}: {exc}[/red] "
                    "(start one: evision up --jobs-root DIR)"
                )
                return 2
            refused_folder = created.status_code == 422 and "jobs root" in str(created.json().get("reason"))
            if refused_folder and folder is not None and folder.is_dir():
                console.print("the service cannot read this folder: uploading it")
                upload, created = True, None
        if upload:
            assert folder is not None
            try:
                created = _upload_and_create(client, folder, args, console, progress)
            except httpx.HTTPError as exc:
                failed = f"[red]evision batch: upload to {base} failed: {exc}[/red]"
                console.print(f"{failed} (run it again to resume)")
                return 2
            if created is None:
                return 2
        assert created is not None
        return _follow(client, created, args, console, progress)


def _upload_and_create(
    client: httpx.Client, folder: Path, args: argparse.Namespace, console: Console, progress: Any
) -> httpx.Response | None:
    from services.commands.batch_upload import UploadFailedError, stage_folder

    task = progress.add_task("uploading", total=None, speed="")
    started = time.monotonic()
    count = [0]

    def on_start(total: int) -> None:
        progress.update(task, total=total)

    def on_file(uploaded: bool) -> None:
        count[0] += uploaded
        rate = count[0] / max(time.monotonic() - started, 1e-3)
        progress.update(task, advance=1, speed=f"{rate:.0f} files/s" if count[0] else "")

    try:
        parallel = max(1, args.parallel)
        staged = stage_folder(client, folder, parallel=parallel, on_start=on_start, on_file=on_file)
    except UploadFailedError as exc:
        console.print(f"[red]evision batch: {exc}[/red] (run it again to resume)")
        return None
    seconds = time.monotonic() - started
    console.print(
        f"uploaded {staged.uploaded} of {staged.files} files in {seconds:.1f} s "
        f"({staged.skipped} already there, skipped)"
    )
    spec = _spec(staged.source, args)
    return _create(client, spec, args.key or _key(spec, staged.fingerprint))


def _follow(
    client: httpx.Client, created: httpx.Response, args: argparse.Namespace, console: Console, progress: Any
) -> int:
    if created.status_code != 202:
        console.print(f"[red]evision batch: refused ({_reason(created)})[/red]")
        return 2
    job = created.json()
    console.print(f"job {job['id']} over {job.get('source') or args.source}")
    deadline = time.monotonic() + args.timeout
    task = progress.add_task("listing", total=None, speed="")
    problem = None
    while job["state"] not in ("done", "cancelled"):
        if time.monotonic() > deadline:
            gave_up = f"gave up after {args.timeout:g} s; run it again to resume"
            console.print(f"[red]evision batch: {gave_up}[/red]")
            return 2
        time.sleep(POLL_SECONDS)
        job = client.get(f"/v1/jobs/{job['id']}").json()
        if job.get("problem") and job["problem"] != problem:  # once per new problem
            problem = job["problem"]
            console.print(f"[yellow]{problem} (retried; fix it and the job goes on)[/yellow]")
        speed = f"{job['images_per_second']:.0f} images/s" if job.get("images_per_second") else ""
        description = "classifying" if job["total"] is not None else "listing"
        progress.update(task, description=description, total=job["total"], completed=job["done"], speed=speed)
    if job["state"] == "cancelled":
        console.print(f"[yellow]job {job['id']} was cancelled: {job['done']} images done[/yellow]")
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    with client.stream("GET", f"/v1/jobs/{job['id']}/results") as response, results.open("wb") as file:
        for part in response.iter_bytes():
            file.write(part)
    (args.out / "_SUCCESS.json").write_text(json.dumps(job.get("manifest") or job, indent=2) + "\n")
    failed = int(job.get("failed") or 0)
    console.print(f"{job['done']} images, {failed} failed -> {results}")
    if failed:
        console.print(f'[yellow]the failed images are the lines of {results} with an "error"[/yellow]')
        return 1
    return 0 if job["state"] == "done" else 2
