"""A small IAM policy evaluator: does a synthesized policy allow a request?

Enough of IAM's evaluation logic for the stack's own policies (IAM user guide, "Policy evaluation
logic"; 2026-12): an explicit Deny wins, else any Allow allows, else the request is implicitly
denied. Matching: Action/NotAction (case-insensitive, `*` and `?`), Resource/NotResource (`*` and
`?`), Principal (`*` or a service) for resource policies, and the condition operators the stack
uses. An operator it does not know raises: a policy it cannot judge never passes silently.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.infra.rendered import Resolver

Decision = Literal["Allow", "Deny", "ImplicitDeny"]


@dataclass(frozen=True)
class Request:
    action: str  # e.g. "sns:Publish"
    resource: str  # an ARN, or "*"
    service: str | None = None  # the calling service principal, for resource policies
    context: Mapping[str, str] = field(default_factory=dict)  # condition keys, e.g. aws:SecureTransport


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    return re.match(fnmatch.translate(pattern), value, 0 if case else re.IGNORECASE) is not None


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*" or principal == {"AWS": "*"}:
        return True
    if isinstance(principal, dict) and "Service" in principal:
        return request.service in _listed(principal["Service"])
    return False


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: actual == expected,
    "StringNotEquals": lambda expected, actual: actual != expected,
    "StringLike": lambda expected, actual: _like(expected, actual),
    "ArnLike": lambda expected, actual: _like(expected, actual),
    "ArnEquals": lambda expected, actual: actual == expected,
    "Bool": lambda expected, actual: str(actual).lower() == str(expected).lower(),
}


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], request: Request) -> bool:
    for operator, tests in conditions.items():
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        if base not in _OPERATORS:
            raise ValueError(f"condition operator {operator} is not known to this evaluator")
        for key, expected in tests.items():
            if key not in request.context:
                if if_exists:
                    continue
                return False
            actual = request.context[key]
            if not any(_OPERATORS[base](str(e), actual) for e in _listed(expected)):
                return False
    return True


def _matches(statement: Mapping[str, Any], request: Request, *, resource_policy: bool) -> bool:
    if resource_policy and not _principal_matches(statement.get("Principal"), request):
        return False
    if "Action" in statement:
        if not any(_like(a, request.action, case=False) for a in _listed(statement["Action"])):
            return False
    elif any(_like(a, request.action, case=False) for a in _listed(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(_like(r, request.resource) for r in _listed(statement["Resource"])):
            return False
    elif "NotResource" in statement and any(
        _like(r, request.resource) for r in _listed(statement["NotResource"])
    ):
        return False
    return _conditions_hold(statement.get("Condition", {}), request)


def decide(
    statements: Iterable[Mapping[str, Any]], request: Request, *, resource_policy: bool = False
) -> Decision:
    matched = [s for s in statements if _matches(s, request, resource_policy=resource_policy)]
    if any(s["Effect"] == "Deny" for s in matched):
        return "Deny"
    return "Allow" if any(s["Effect"] == "Allow" for s in matched) else "ImplicitDeny"


def resolved(node: Any, resolver: Resolver) -> Any:
    """A policy document with every intrinsic function resolved (as CloudFormation would)."""
    if isinstance(node, list):
        return [resolved(item, resolver) for item in node]
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)) in ("Ref", "Fn::GetAtt", "Fn::Join", "Fn::Sub", "Fn::Select"):
            return resolver.resolve(node)
        return {key: resolved(value, resolver) for key, value in node.items()}
    return node
