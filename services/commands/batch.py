"""`evision batch SRC --out DST`: a batch job against a running service, with a progress bar.

SRC is a folder under the service's jobs root (`evision up --jobs-root DIR`) or an
s3://bucket/prefix (the aws backend). The job's idempotency key is derived from SRC and the
options, so running the same command again resumes the job (or fetches its results) instead of
starting another; `--key` names one explicitly. When the job ends, DST gets `results.jsonl`
(one line per image, in chunk order) and `_SUCCESS.json` (the counts). Exit 0 when every image
was classified, 1 when some failed (their lines carry an "error"), 2 when the job could not run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

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
    parser.add_argument("--key", help="the job's Idempotency-Key (default: derived from SRC and options)")
    parser.add_argument(
        "--timeout", type=float, default=24 * 3600.0, metavar="S", help="give up after S seconds"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _source(given: str) -> str:
    return given if given.startswith("s3://") else str(Path(given).absolute())


def run(args: argparse.Namespace) -> int:
    import httpx
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True, highlight=False)
    source = _source(args.source)
    spec = {"source": source, "top_k": args.top_k}
    key = args.key or "batch-" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]
    base = args.url.rstrip("/")
    with httpx.Client(base_url=base, timeout=60) as client:
        try:
            created = client.post("/v1/jobs", json=spec, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            console.print(
                f"[red]evision batch: no service at {base}: {exc}[/red] "
                "(start one: evision up --jobs-root DIR)"
            )
            return 2
        if created.status_code != 202:
            body: dict[str, Any] = created.json()
            console.print(
                f"[red]evision batch: refused ({created.status_code} {body.get('error')}): "
                f"{body.get('reason')}[/red]"
            )
            return 2
        job = created.json()
        console.print(f"job {job['id']} over {source}")
        deadline = time.monotonic() + args.timeout
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[speed]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, disable=args.no_progress) as progress:
            task = progress.add_task("listing", total=None, speed="")
            problem = None
            while job["state"] not in ("done", "cancelled"):
                if time.monotonic() > deadline:
                    console.print(
                        f"[red]evision batch: gave up after {args.timeout:g} s; run it again to resume[/red]"
                    )
                    return 2
                time.sleep(POLL_SECONDS)
                job = client.get(f"/v1/jobs/{job['id']}").json()
                if job.get("problem") and job["problem"] != problem:  # once per new problem
                    problem = job["problem"]
                    console.print(f"[yellow]{problem} (retried; fix it and the job goes on)[/yellow]")
                speed = f"{job['images_per_second']:.0f} images/s" if job.get("images_per_second") else ""
                description = "classifying" if job["total"] is not None else "listing"
                progress.update(
                    task, description=description, total=job["total"], completed=job["done"], speed=speed
                )
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
