"""The import rules of ARCHITECTURE.md §2, checked on the source text (an AST walk, nothing imported).

- Outside `services/adapters/`, nothing imports boto3, botocore, their type stubs or a backend
  package (`services.adapters.<backend>`): the ports are the only way to a backend.
- `services/` imports nothing of `model/` but the package itself (`from model import X`): the
  model's one public entry.
- `model/` imports nothing of `services/` or `infra/`: it is a library of its own.
- The services' own layers: `services.jobs` imports neither the worker nor the web tier, and the
  web tier does not import the worker.
- No import cycle between the project's modules (every import counts: module level, under
  TYPE_CHECKING, inside a function).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.adapters.catalog import BACKENDS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("services", "model", "infra")
AWS_SDK = ("boto3", "botocore", "mypy_boto3_")
BACKEND_PACKAGES = tuple(BACKENDS.values())
# package -> the project packages it must not import (ARCHITECTURE.md §2, the layers)
LAYERS = {
    "services.jobs": ("services.worker", "services.web"),
    "services.web": ("services.worker",),
}


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module
    target: str  # what it names: a module, or a module's attribute (`pkg.mod.Name`)
    line: int


def project_sources(root: Path = ROOT) -> dict[str, str]:
    """Module name -> source, for every module of the project (tests excluded)."""
    files = [path for package in PACKAGES for path in sorted((root / package).rglob("*.py"))]
    files.append(root / "app.py")
    sources = {}
    for path in files:
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        sources[name] = path.read_text()
    return sources


def imports(sources: Mapping[str, str]) -> Iterator[Import]:
    for module, source in sources.items():
        is_package = any(other.startswith(module + ".") for other in sources)
        package = module if is_package else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(module, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    anchor = ".".join(parts[: len(parts) - node.level + 1])
                    base = f"{anchor}.{base}" if base else anchor
                for alias in node.names:
                    yield Import(module, f"{base}.{alias.name}", node.lineno)


def _is_within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(sources: Mapping[str, str]) -> list[str]:
    found = []
    for item in imports(sources):
        where = f"{item.module}:{item.line} imports {item.target}"
        outside_adapters = not _is_within(item.module, "services.adapters")
        if outside_adapters and (
            item.target.startswith(AWS_SDK) or any(_is_within(item.target, p) for p in BACKEND_PACKAGES)
        ):
            found.append(f"{where}: only services/adapters/ may reach a backend")
        if _is_within(item.module, "services") and item.target.startswith("model."):
            named = item.target.removeprefix("model.")  # `from model import X`: X, a public name
            if "." in named or item.target in sources:  # a submodule, or a name inside one
                found.append(f"{where}: services/ imports only `model` itself (its public entry)")
        if _is_within(item.module, "model") and item.target.startswith(("services", "infra")):
            found.append(f"{where}: model/ is a library of its own")
        for package, below in LAYERS.items():
            if _is_within(item.module, package) and any(_is_within(item.target, b) for b in below):
                found.append(f"{where}: {package} may not import {', '.join(below)}")
    found.extend(f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(sources))
    return found


def _resolve(target: str, sources: Mapping[str, str]) -> str | None:
    """The project module an import loads (its longest known prefix), or None (not ours)."""
    while target and target not in sources:
        target = target.rpartition(".")[0]
    return target or None


def cycles(sources: Mapping[str, str]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), as a path back to its start."""
    edges: dict[str, set[str]] = {module: set() for module in sources}
    for item in imports(sources):
        target = _resolve(item.target, sources)
        if target is not None and target != item.module:
            edges[item.module].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(sources):
        if module not in index:
            visit(module)
    return [_path_through(group, edges) for group in groups]


def _path_through(group: list[str], edges: Mapping[str, set[str]]) -> list[str]:
    """A closed path from the group's first module back to it, through the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        node = frontier.pop(0)
        for other in sorted(edges[node] & members):
            if other == start:
                return [*paths[node], start]
            if other not in paths:
                paths[other] = [*paths[node], other]
                frontier.append(other)
    return [*group, start]
