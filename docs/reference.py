"""Reference pages generated from the code at each build (mkdocs-gen-files; mkdocs.yml): every
`evision` command and option from its argument parser, every `EVISION_` setting from the settings
classes, every CDK context key from `infra.config`, and the HTTP API from the OpenAPI document.
A description comes from the code too: a field's `description`, else the comment above it."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import io
import json
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # infra/ is not installed: the CDK app runs from the checkout


def comments_above(path: Path) -> dict[tuple[str, str], str]:
    """(class, attribute) -> the comment lines right above the attribute (a comment over a run of
    attributes covers each of them), else the comment at the end of its line."""
    source = path.read_text()
    above: dict[int, str] = {}
    trailing: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            own_line = token.line.strip().startswith("#")
            (above if own_line else trailing)[token.start[0]] = token.string.lstrip("#").strip()
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            run: tuple[int, str] = (0, "")  # (last line of the run, its comment)
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    lines: list[str] = []
                    line = statement.lineno - 1
                    while line in above:
                        lines.insert(0, above[line])
                        line -= 1
                    group = " ".join(lines) or (run[1] if run[0] == statement.lineno - 1 else "")
                    text = group or trailing.get(statement.lineno, "")
                    if text:
                        found[(node.name, statement.target.id)] = text
                    run = (statement.end_lineno or statement.lineno, group)
    return found


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# ---- the command line

TABLE_HEAD = ["| option | default | meaning |", "| --- | --- | --- |"]


def cli_page() -> str:
    from services.cli import COMMANDS

    lines = [
        "# Command line: `evision`",
        "",
        "Generated from the argument parsers (`services/cli.py` and `services/commands/`).",
        "",
        "| command | what it does |",
        "| --- | --- |",
    ]
    lines += [f"| [`{name}`](#evision-{name}) | {cell(summary)} |" for name, (_, summary) in COMMANDS.items()]
    for name, (module, summary) in COMMANDS.items():
        parser = argparse.ArgumentParser(prog=f"evision {name}", description=summary)
        importlib.import_module(module).configure(parser)
        lines += [
            "",
            f"## evision {name}",
            "",
            summary,
            "",
            "| option | default | meaning |",
            "| --- | --- | --- |",
        ]
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.dest}`"
            meaning = action.help or ""
            if isinstance(action, argparse._SubParsersAction):
                meaning = "one of the sub-commands below"
            if action.choices:
                names += " (" + " \\| ".join(map(str, action.choices)) + ")"
            default = "" if action.default in (None, argparse.SUPPRESS, False) else f"`{action.default}`"
            lines.append(f"| {names} | {cell(default)} | {cell(meaning)} |")
        lines += ["", "```text", parser.format_help().rstrip(), "```"]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    lines += [
                        "",
                        f"### evision {name} {sub_name}",
                        "",
                        "```text",
                        sub.format_help().rstrip(),
                        "```",
                    ]
    return "\n".join(lines) + "\n"


# ---- EVISION_ settings


def settings_classes() -> Iterator[type[Any]]:
    """Every settings class in services/, found in the source (a new one documents itself)."""
    from services.settings import EvisionSettings

    for path in sorted((ROOT / "services").rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and n.name.endswith("Settings")]
        if not names:
            continue
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for name in names:
            candidate = getattr(module, name)
            if isinstance(candidate, type) and issubclass(candidate, EvisionSettings):
                yield candidate


def settings_page() -> str:
    from services.settings import EvisionSettings

    lines = [
        "# Settings: `EVISION_*`",
        "",
        "Every process reads its settings from `EVISION_<NAME>` variables (pydantic-settings;",
        "`services/settings.py`). Generated from the settings classes: each table lists the",
        "settings a class adds to the one it extends.",
    ]
    for settings in sorted(settings_classes(), key=lambda c: (len(c.__mro__), c.__name__)):
        if settings is EvisionSettings:
            continue
        base = next(b for b in settings.__mro__[1:] if issubclass(b, EvisionSettings))
        inherited = set(base.model_fields)
        comments = comments_above(Path(importlib.import_module(settings.__module__).__file__ or ""))
        own = {n: f for n, f in settings.model_fields.items() if n not in inherited}
        lines += ["", f"## {settings.__name__}", "", f"`{settings.__module__}`"]
        if base is not EvisionSettings:
            lines += ["", f"Also every setting of [{base.__name__}](#{base.__name__.lower()})."]
        lines += ["", "| variable | default | meaning |", "| --- | --- | --- |"]
        for name, field in own.items():
            default = "(computed)" if field.default_factory is not None else repr(field.default)
            meaning = field.description or comments.get((settings.__name__, name), "")
            lines.append(f"| `{settings.variable(name)}` | `{cell(default)}` | {cell(meaning)} |")
    return "\n".join(lines) + "\n"


# ---- CDK context keys


def context_page() -> str:
    from infra.config import CONTEXT_KEYS, ServiceConfig

    comments = comments_above(ROOT / "infra" / "config.py")
    fields = {f.name: f for f in dataclasses.fields(ServiceConfig)}
    scaling = {f.name: f for f in dataclasses.fields(ServiceConfig().scaling)}
    lines = [
        "# CDK context keys",
        "",
        'Set in `cdk.json`, or for one command: `make deploy CDK_ARGS="-c key=value"`. `stage`',
        "(`dev` | `prod`) picks the defaults; `prod` keeps the data buckets and log groups.",
        "Generated from `infra/config.py` (`CONTEXT_KEYS`, `ServiceConfig`).",
        "",
        "| key | default (dev) | meaning |",
        "| --- | --- | --- |",
        "| `stage` | `dev` | dev: buckets destroyed with the stack; prod: retained |",
    ]
    config = ServiceConfig()
    for key, name in CONTEXT_KEYS.items():
        if name in fields:
            default = getattr(config, name)
            meaning = comments.get(("ServiceConfig", name), "")
        else:  # min/max capacity live in the scaling policy
            default = getattr(config.scaling, name)
            meaning = f"the worker group's {name.replace('_', ' ')} (the scaling policy's)"
            assert name in scaling
        shown = "(none)" if default in (None, (), {}) else json.dumps(default, default=str)
        lines.append(f"| `{key}` | `{cell(shown)}` | {cell(meaning)} |")
    return "\n".join(lines) + "\n"


# ---- the HTTP API


def http_page() -> str:
    from services.web.main import create_app
    from services.web.settings import WebSettings

    schema = create_app(WebSettings()).openapi()
    lines = [
        f"# HTTP API: {schema['info']['title']} {schema['info'].get('version', '')}",
        "",
        "Rendered from the service's OpenAPI document (a running service serves it at",
        "`/openapi.json`, and interactively at `/docs`). Every error answers",
        '`{"error": kind, "reason": text}`.',
    ]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            lines += ["", f"## {method.upper()} {path}", "", cell(operation.get("summary", ""))]
            if operation.get("description"):
                lines += ["", operation["description"].strip()]
            parameters = operation.get("parameters", [])
            if parameters:
                lines += ["", "| parameter | in | required | meaning |", "| --- | --- | --- | --- |"]
                for p in parameters:
                    meaning = p.get("description") or p.get("schema", {}).get("description", "")
                    lines.append(
                        f"| `{p['name']}` | {p['in']} | {p.get('required', False)} | {cell(meaning)} |"
                    )
            body = operation.get("requestBody", {}).get("content", {})
            if body:
                lines += ["", "Body: " + ", ".join(f"`{kind}`" for kind in body)]
            lines += ["", "| status | meaning |", "| --- | --- |"]
            for status, response in operation.get("responses", {}).items():
                lines.append(f"| {status} | {cell(response.get('description', ''))} |")
    return "\n".join(lines) + "\n"


PAGES = {
    "reference/cli.md": cli_page,
    "reference/settings.md": settings_page,
    "reference/context.md": context_page,
    "reference/http.md": http_page,
}

for page, render in PAGES.items():
    with mkdocs_gen_files.open(page, "w") as out:
        out.write(render())
