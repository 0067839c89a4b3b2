"""The worker refresh's handler (infra/worker_refresh.py HANDLER, the code Lambda runs) against a
stand-in for Auto Scaling that answers as the API reference documents: StartInstanceRefresh raises
InstanceRefreshInProgress while a refresh is active (a cancelled one included, until it has wound
down), CancelInstanceRefresh raises ActiveInstanceRefreshNotFound when none is (EC2 Auto Scaling
API reference, StartInstanceRefresh and CancelInstanceRefresh; 2026-12)."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.worker_refresh import HANDLER, PREFERENCES


def fault(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


@dataclass
class AutoScalingStandIn:
    active: bool = False  # a refresh is Pending/InProgress/Cancelling
    winds_down_after: int | None = None  # starts refused once cancelled, before the refresh stops
    denied: bool = False  # the caller's policy refuses every call
    calls: list[str] = field(default_factory=list)
    started: int = 0

    def cancel_instance_refresh(self, **call: str) -> dict[str, str]:
        self.calls.append(f"cancel {call['AutoScalingGroupName']}")
        if self.denied:
            raise fault("AccessDenied", "CancelInstanceRefresh")
        if not self.active:
            raise fault("ActiveInstanceRefreshNotFound", "CancelInstanceRefresh")
        if self.winds_down_after is None:
            self.winds_down_after = 2
        return {"InstanceRefreshId": "old"}

    def start_instance_refresh(self, **call: Any) -> dict[str, str]:
        preferences = call["Preferences"]["ScaleInProtectedInstances"]
        self.calls.append(f"start {call['AutoScalingGroupName']} {call['Strategy']} {preferences}")
        if self.active:
            if self.winds_down_after is not None:
                self.winds_down_after -= 1
                self.active = self.winds_down_after >= 0
            raise fault("InstanceRefreshInProgress", "StartInstanceRefresh")
        self.active = True
        self.started += 1
        return {"InstanceRefreshId": f"refresh-{self.started}"}


def run_handler(event: dict[str, Any], autoscaling: AutoScalingStandIn) -> dict[str, Any]:
    """Run HANDLER as Lambda would, with boto3 and cfnresponse replaced by stand-ins."""
    sent: dict[str, Any] = {}
    cfnresponse = types.SimpleNamespace(
        SUCCESS="SUCCESS",
        FAILED="FAILED",
        send=lambda event, context, status, data, physical_id, reason=None: sent.update(
            status=status, data=data, physical_id=physical_id, reason=reason
        ),
    )
    boto3 = types.SimpleNamespace(client=lambda service: autoscaling)
    saved = {name: sys.modules.get(name) for name in ("boto3", "cfnresponse")}
    stand_ins: dict[str, Any] = {"boto3": boto3, "cfnresponse": cfnresponse}
    sys.modules.update(stand_ins)
    try:
        namespace: dict[str, Any] = {}
        exec(compile(HANDLER, "index.py", "exec"), namespace)
        namespace["handler"](event, None)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return sent


def update(version: str, old_version: str, attempts: int = 5) -> dict[str, Any]:
    properties = {"GroupName": "g", "Version": version, "Preferences": json.dumps(PREFERENCES)}
    return {
        "RequestType": "Update",
        "ResourceProperties": {**properties, "Attempts": str(attempts)},
        "OldResourceProperties": {**properties, "Version": old_version},
        "PhysicalResourceId": old_version,
    }


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch):
    """The handler's waits between attempts (it calls time.sleep) take no time here."""
    import time

    monkeypatch.setattr(time, "sleep", lambda seconds: None)


def test_an_update_with_no_refresh_running_starts_one():
    group = AutoScalingStandIn()
    sent = run_handler(update("5", "4"), group)
    assert sent["status"] == "SUCCESS" and sent["physical_id"] == "5"
    assert sent["data"]["Outcome"] == "started refresh-1"
    assert group.calls == ["cancel g", "start g Rolling Wait"]


def test_a_fix_forward_cancels_the_running_refresh_and_starts_the_new_one_once_it_has_wound_down():
    group = AutoScalingStandIn(active=True)
    sent = run_handler(update("6", "5"), group)
    assert sent["status"] == "SUCCESS"
    assert sent["data"]["Outcome"] == "cancelled the refresh in progress; started refresh-1"
    assert group.calls.count("start g Rolling Wait") == 4  # refused while it wound down, then started


def test_a_refresh_that_never_winds_down_does_not_fail_the_deploy():
    group = AutoScalingStandIn(active=True, winds_down_after=1000)
    sent = run_handler(update("6", "5", attempts=3), group)
    assert sent["status"] == "SUCCESS"
    assert sent["data"]["Outcome"].endswith("not started: a refresh is still in progress")


def test_the_rollback_update_tolerates_a_refresh_in_progress_and_any_failure():
    """CloudFormation rolls back with an Update carrying the old (lower) version: FAILED here would
    leave the stack UPDATE_ROLLBACK_FAILED."""
    in_progress = AutoScalingStandIn(active=True, winds_down_after=1000)
    assert run_handler(update("5", "6", attempts=3), in_progress)["status"] == "SUCCESS"
    denied = run_handler(update("5", "6"), AutoScalingStandIn(denied=True))
    assert denied["status"] == "SUCCESS" and "AccessDenied" in denied["data"]["Outcome"]


def test_a_forward_update_the_api_refuses_fails_the_deploy():
    sent = run_handler(update("6", "5"), AutoScalingStandIn(denied=True))
    assert sent["status"] == "FAILED" and "AccessDenied" in sent["reason"]


def test_delete_calls_nothing():
    group = AutoScalingStandIn()
    event = {**update("1", "1"), "RequestType": "Delete"}
    assert run_handler(event, group)["status"] == "SUCCESS"
    assert group.calls == []


def test_create_refreshes_and_never_fails():
    """This resource may be created in an existing stack (its first deploy): its workers are
    refreshed then too; a refusal never fails the creation."""
    group = AutoScalingStandIn()
    event = {**update("1", "1"), "RequestType": "Create"}
    assert run_handler(event, group)["data"]["Outcome"] == "started refresh-1"
    denied = run_handler(event, AutoScalingStandIn(denied=True))
    assert denied["status"] == "SUCCESS" and "AccessDenied" in denied["data"]["Outcome"]
