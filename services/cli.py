"""The `evision` command line.

Each sub-command lives in its own module with `configure(parser)` and `run(args) -> int`.
Only the chosen one is imported, so `evision up` does not pay for what `evision bench` needs
and the web tier never imports onnxruntime.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("services.commands.up", "run the whole service locally (web + elastic workers)"),
    "web": ("services.commands.web", "run the web tier only"),
    "worker": ("services.commands.worker", "run one worker process"),
    "status": ("services.commands.status", "show queue depth, workers and recent scaling decisions"),
    "batch": ("services.commands.batch", "a batch job over a folder or s3 prefix, results as JSON Lines"),
    "loadgen": ("services.commands.loadgen", "concurrent uploads against a running service"),
    "bench": ("services.commands.bench", "end-to-end benchmark against the bare model"),
    "bench-model": ("services.bench.model_bench", "bare decode+preprocess+inference throughput"),
    "bench-job": ("services.bench.job", "a batch job of N images on evision up against the bare model"),
    "bench-standby": ("services.bench.standby", "what a busy standby worker costs the web tier beside it"),
    "model": (
        "services.commands.model",
        "check a model folder: manifest, labels, graph, golden images, speed",
    ),
    "preflight": (
        "services.commands.preflight",
        "check the AWS account before a deploy: bootstrap, quota, parameter, certificate, zones",
    ),
    "ami": ("services.commands.ami", "pin the Amazon Linux 2023 image the instances boot (cdk.context.json)"),
    "soak": ("services.commands.soak", "fault soak: uploads while workers and the service are killed"),
    "simulate": ("services.commands.simulate", "the cloud tier's elasticity, simulated (latency and cost)"),
}


class Command(Protocol):
    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: evision COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`evision COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"evision: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, help_ = COMMANDS[name]
    command = cast(Command, importlib.import_module(module_name))
    parser = argparse.ArgumentParser(prog=f"evision {name}", description=help_)
    command.configure(parser)
    return command.run(parser.parse_args(rest))


if __name__ == "__main__":
    sys.exit(main())
