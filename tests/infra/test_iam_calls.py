"""Every AWS call the instances' bootstrap, their CloudWatch agent and the stack's custom resources
make is allowed by the caller's SYNTHESIZED policies, on the resource it names (evaluated by
tests/infra/policy_eval.py on the template with its tokens resolved, as deployed in us-east-1).

The calls are listed per role below; each list is checked against the code that makes the calls
(the bootstrap script's `aws ...` commands and cfn-signal, the Lambda handlers' client methods), so
a call added to the code without its grant fails here. The agent's calls are those the CloudWatch
agent documents for shipping into existing groups (CloudWatch agent user guide, "Create IAM roles
... to use with the CloudWatch agent": logs:CreateLogStream, logs:PutLogEvents,
logs:DescribeLogStreams; 2026-12). AWSLambdaBasicExecutionRole is the managed policy's documented
content (logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents on *).
"""

from __future__ import annotations

import re

import pytest

from infra.reply_queue_cleanup import HANDLER as CLEANUP_HANDLER
from infra.user_data import BOOTSTRAP_SCRIPT
from infra.worker_refresh import HANDLER as REFRESH_HANDLER
from tests.infra.policy_eval import Request, decide
from tests.infra.rendered import ACCOUNT
from tests.infra.roles import REGION, group_arn, rendered_exports, role_statements
from tests.infra.synthesis import STACK, Synthesized

INSTANCE = "i-0123456789abcdef0"


def log_stream(group: str, stream: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:{stream}"


def instance_calls(synthesized: Synthesized, role: str) -> list[tuple[str, str]]:
    """(action, resource) of each call the bootstrap and the agent make on a `role` instance."""
    exports = rendered_exports(synthesized, role)
    assets = [exports["EV_BUNDLE_URL"], exports["EV_BOOTSTRAP_URL"]]
    group = group_arn(exports["EV_GROUP"])
    calls = [("s3:GetObject", "arn:aws:s3:::" + url.removeprefix("s3://")) for url in assets]
    # The previous deploy's bundle, read during an update (the stack's asset prefix).
    previous = assets[0].rsplit("/", 1)[0] + "/" + "0" * 64 + ".zip"
    calls.append(("s3:GetObject", "arn:aws:s3:::" + previous.removeprefix("s3://")))
    calls.append(("autoscaling:SetInstanceHealth", group))  # report-unhealthy
    if role == "worker":
        calls.append(("autoscaling:CompleteLifecycleAction", group))  # ABANDON a failed launch
    else:
        stack = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/{'0' * 36}"
        calls += [
            ("cloudformation:DescribeStacks", stack),  # signal only while an operation waits
            ("cloudformation:SignalResource", stack),  # cfn-signal
            ("elasticloadbalancing:DescribeTargetHealth", exports["EV_TARGET_GROUP"]),
        ]
    for group_name, stream in (
        (exports["EV_LOG_GROUP"], INSTANCE),
        (exports["EV_BOOTSTRAP_LOG_GROUP"], f"{INSTANCE}-{role}"),
    ):
        calls += [
            ("logs:CreateLogStream", log_stream(group_name, stream)),
            ("logs:PutLogEvents", log_stream(group_name, stream)),
            ("logs:DescribeLogStreams", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group_name}:*"),
        ]
    return calls


def script_aws_commands() -> set[str]:
    """`aws <service> <command>` in the bootstrap script (and cfn-signal), as IAM actions."""
    text = BOOTSTRAP_SCRIPT.read_text()
    prefixes = {
        "s3": "s3",
        "autoscaling": "autoscaling",
        "cloudformation": "cloudformation",
        "elbv2": "elasticloadbalancing",
    }
    commands = {"cp": "GetObject"}
    found = set()
    for service, command in re.findall(r"\baws (s3|autoscaling|cloudformation|elbv2) ([a-z0-9-]+)", text):
        operation = commands.get(command, "".join(word.capitalize() for word in command.split("-")))
        found.add(f"{prefixes[service]}:{operation}")
    if re.search(r"^\s*(if )?cfn-signal ", text, re.MULTILINE):
        found.add("cloudformation:SignalResource")
    return found


def handler_actions(code: str) -> set[str]:
    """The client methods a handler calls (snake_case) as IAM actions of `service`."""
    service = re.search(r'boto3\.client\("(\w+)"\)', code)
    assert service is not None
    prefix = service.group(1)
    # The client is named after its service in both handlers (`sqs.delete_queue(`, `autoscaling.…(`).
    methods = set(re.findall(rf"\b{prefix}\.(\w+)\(", code)) - {"get_paginator"}
    methods |= set(re.findall(r'get_paginator\("(\w+)"\)', code))
    return {f"{prefix}:{''.join(w.capitalize() for w in m.split('_'))}" for m in methods}


@pytest.mark.parametrize(("role", "prefix"), [("web", "WebRole"), ("worker", "WorkersRole")])
def test_every_bootstrap_and_agent_call_of_an_instance_is_allowed(synthesized, role, prefix):
    calls = instance_calls(synthesized, role)
    bootstrap_actions = {action for action, _ in calls if not action.startswith("logs:")}
    # The list covers the script: every `aws` command the bootstrap runs for this role is in it.
    expected = script_aws_commands() - (
        {
            "cloudformation:DescribeStacks",
            "cloudformation:SignalResource",
            "elasticloadbalancing:DescribeTargetHealth",
        }
        if role == "worker"
        else set()
    )
    if role == "web":
        expected -= {"autoscaling:CompleteLifecycleAction"}  # the web group has no launch hook
    assert bootstrap_actions == expected
    statements = role_statements(synthesized, prefix)
    decisions = {
        (action, resource): decide(statements, Request(action, resource)) for action, resource in calls
    }
    print(f"{role}: {len(calls)} calls checked, {sum(d != 'Allow' for d in decisions.values())} denied")
    assert all(d == "Allow" for d in decisions.values()), {k: d for k, d in decisions.items() if d != "Allow"}
    # And not more: another group, another stack's assets.
    assert decide(statements, Request("autoscaling:SetInstanceHealth", group_arn("someone-else"))) != "Allow"
    assert (
        decide(
            statements,
            Request("s3:GetObject", f"arn:aws:s3:::cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/Other/x.zip"),
        )
        != "Allow"
    )


def test_every_call_of_the_custom_resources_is_allowed(synthesized):
    workers = group_arn(f"{STACK}-workers")
    reply_queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-replies-0123456789ab"
    expected = {
        "WorkersRefreshFunction": (
            REFRESH_HANDLER,
            {"autoscaling:CancelInstanceRefresh": workers, "autoscaling:StartInstanceRefresh": workers},
        ),
        "ReplyQueueCleanupFunction": (
            CLEANUP_HANDLER,
            {"sqs:ListQueues": "*", "sqs:DeleteQueue": reply_queue},
        ),
    }
    for prefix, (code, calls) in expected.items():
        assert handler_actions(code) == set(calls), prefix
        statements = role_statements(synthesized, prefix)
        own_logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{prefix}:log-stream:x"
        for action, resource in [*calls.items(), ("logs:PutLogEvents", own_logs)]:
            assert decide(statements, Request(action, resource)) == "Allow", (prefix, action, resource)
        print(f"{prefix}: {len(calls) + 1} calls checked, 0 denied")
    refresh = role_statements(synthesized, "WorkersRefreshFunction")
    assert decide(refresh, Request("autoscaling:StartInstanceRefresh", group_arn(f"{STACK}-web"))) != "Allow"
