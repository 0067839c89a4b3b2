"""What survives `make destroy` is what the deploy page says survives (docs/deploy.md, "What
`make destroy` leaves").

Survivors, read from the synthesized template of each stage: every resource CloudFormation keeps
(DeletionPolicy Retain), and the log group Lambda makes by itself for a function that logs
nowhere else (`/aws/lambda/<name>`, outside the stack, with no retention). Each kind maps to the
deploy page's words for it; a new survivor, or a documented one that went, fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.synthesis import Synthesized

DEPLOY_PAGE = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def survivors(synthesized: Synthesized) -> set[str]:
    kinds = set()
    for name, resource in synthesized.resources.items():
        cfn_type = resource["Type"]
        if resource.get("DeletionPolicy") == "Retain":
            if cfn_type == "AWS::S3::Bucket":
                kinds.add("log buckets" if "AccessLogs" in name else "data buckets")
            elif cfn_type == "AWS::Logs::LogGroup":
                kinds.add("flow logs" if name.startswith("Network") else "log groups")
            else:
                kinds.add(f"{cfn_type} {name}")  # undocumented: fails below
        if cfn_type == "AWS::Lambda::Function" and "LoggingConfig" not in resource["Properties"]:
            kinds.add("Lambda log group")
    return kinds


# The deploy page's words for each kind that survives, per stage.
DOCUMENTED = {
    "dev": {
        "log buckets": "two\n  log buckets stay by design",
        "Lambda log group": "The Lambda log group of CDK's bucket-emptying function",
    },
    "prod": {
        "log buckets": "two\n  log buckets stay by design",
        "data buckets": "the data buckets and their objects",
        "log groups": "the log groups (bootstrap, web, worker)",
        "flow logs": "the VPC\n  flow logs stay too",
    },
}


def destroy_paragraph() -> str:
    text = DEPLOY_PAGE.read_text()
    start = text.index("- **What `make destroy` leaves.**")
    return text[start : text.index("\n\n", start)]


@pytest.mark.parametrize(
    ("stage", "synthesis"), [("dev", "synthesized"), ("prod", "synthesized_every_option")]
)
def test_what_survives_destroy_is_what_the_deploy_page_says(stage, synthesis, request):
    synthesized: Synthesized = request.getfixturevalue(synthesis)
    assert synthesized.stack == f"ElasticVision-{stage}"
    assert survivors(synthesized) == set(DOCUMENTED[stage])
    paragraph = destroy_paragraph()
    for kind, words in DOCUMENTED[stage].items():
        assert words in paragraph, f"{stage}: docs/deploy.md does not say that the {kind} stay"


def test_every_function_of_the_stack_logs_into_a_group_with_a_retention(synthesized):
    """The stack's own Lambda functions log into a log group of the stack, kept for a while only."""
    groups = synthesized.of_type("AWS::Logs::LogGroup")
    own = [
        f for f in synthesized.of_type("AWS::Lambda::Function").values() if "LoggingConfig" in f["Properties"]
    ]
    assert len(own) == 2  # the worker refresh and the reply queue cleanup
    for function in own:
        group = groups[function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] <= 30 and group["DeletionPolicy"] == "Delete"
