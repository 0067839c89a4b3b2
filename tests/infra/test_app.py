"""The whole app as `python app.py` synthesizes it: cdk-nag clean, cfn-lint clean, least privilege,
stable logical ids of the stateful resources, the ONE scaling policy, the outputs and the bundle."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

from infra.workers import LAUNCH_HOOK, LAUNCH_TIMEOUT
from services.elasticity.policy import ScalingPolicy
from tests.infra.synthesis import FRONT_DOOR_CONTEXT

# Renaming a construct must not silently replace a bucket or a queue (and lose data or
# in-flight requests): these ids are part of the deployed state.
STATEFUL_LOGICAL_IDS = {
    "StorageInput124FA7A1": "AWS::S3::Bucket",
    "StorageOutputBB69BB33": "AWS::S3::Bucket",
    "StorageAccessLogs96FB524C": "AWS::S3::Bucket",
    "QueuesRequestsE9E15C13": "AWS::SQS::Queue",
    "QueuesDeadLetterA4947A69": "AWS::SQS::Queue",
}


def test_cdk_nag_reports_no_unacknowledged_finding_and_every_acknowledgement_has_a_reason(synthesized):
    # Synthesis itself raises on an unacknowledged finding; the report says the same.
    [report] = synthesized.validation_report["pluginReports"]
    assert report["pluginName"] == "AwsSolutions"
    assert report["conclusion"] == "success"
    assert report["violations"] == []
    acknowledged = report["suppressedViolations"]
    assert acknowledged, "the demo has known trade-offs (public HTTP, no NAT...): expected acknowledgements"
    for finding in acknowledged:
        assert len(finding["reason"]) > 40, finding["ruleName"]


def test_cfn_lint_reports_no_error(synthesized):
    template = synthesized.outdir / "ElasticVision-dev.template.json"
    matches = lint_file(Path(template), ManualArgs(regions=["us-east-1"]))
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def _statements(synthesized) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, resource in synthesized.resources.items():
        props = resource["Properties"]
        if resource["Type"] == "AWS::IAM::Policy":
            found += [(name, s) for s in props["PolicyDocument"]["Statement"]]
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                found += [(name, s) for s in policy["PolicyDocument"]["Statement"]]
    return found


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_wildcard_actions_and_no_wildcard_resource_except_where_aws_requires(synthesized):
    statements = _statements(synthesized)
    assert statements
    for name, statement in statements:
        for action in _as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), (name, action)
        if "*" in _as_list(statement["Resource"]):
            # The exceptions AWS requires (no resource-level permissions): PutMetricData, limited
            # to our namespace; DescribeAutoScalingGroups, DescribeTargetHealth, ListQueues: read-only.
            if statement["Action"] == "cloudwatch:PutMetricData":
                assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "ElasticVision"}}
            else:
                read_only = {
                    "autoscaling:DescribeAutoScalingGroups",
                    "elasticloadbalancing:DescribeTargetHealth",
                    "sqs:ListQueues",
                }
                assert set(_as_list(statement["Action"])) <= read_only, (name, statement)


def test_instance_roles_get_exactly_what_their_services_call(synthesized):
    by_policy: dict[str, set[str]] = {}
    for name, statement in _statements(synthesized):
        by_policy.setdefault(name, set()).update(_as_list(statement["Action"]))
    [worker] = [v for k, v in by_policy.items() if k.startswith("WorkersRole")]
    [web] = [v for k, v in by_policy.items() if k.startswith("WebRole")]
    assert worker == {
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
        "cloudwatch:PutMetricData",
        "autoscaling:SetInstanceProtection",
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:SetInstanceHealth",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
    }
    worker_only = {"autoscaling:SetInstanceProtection", "autoscaling:CompleteLifecycleAction"}
    rollout = {
        "cloudformation:DescribeStacks",
        "cloudformation:SignalResource",
        "elasticloadbalancing:DescribeTargetHealth",
    }
    activation = {"autoscaling:SetDesiredCapacity", "autoscaling:DescribeAutoScalingGroups"}
    own_reply_queue = {
        "sqs:CreateQueue",
        "sqs:TagQueue",
        "sqs:ListQueueTags",
        "sqs:DeleteQueue",
        "sqs:ListQueues",
    }
    assert web == (worker - worker_only) | activation | own_reply_queue | rollout


def test_reply_queue_access_is_limited_to_the_stacks_prefix(synthesized):
    on_replies: dict[str, set[str]] = {}
    for name, statement in _statements(synthesized):
        for resource in _as_list(statement["Resource"]):
            text = json.dumps(resource)
            if "replies" in text:
                arn = "".join(p if isinstance(p, str) else "<x>" for p in resource["Fn::Join"][1])
                assert arn.endswith(":ElasticVision-dev-replies-*"), arn
                on_replies.setdefault(name.split("DefaultPolicy")[0], set()).update(
                    _as_list(statement["Action"])
                )
    assert on_replies["WorkersRole"] == {"sqs:SendMessage", "sqs:GetQueueUrl"}
    assert {"sqs:CreateQueue", "sqs:DeleteQueue", "sqs:TagQueue", "sqs:ReceiveMessage"} <= on_replies[
        "WebRole"
    ]
    [web] = _web_launch_data(synthesized)
    assert "export EVISION_REPLY_QUEUE_PREFIX=ElasticVision-dev-replies" in web
    assert "export EVISION_WEB_PROCESSES=2" in web and "export EVISION_TRUST_FORWARDED_FOR=true" in web


def _web_launch_data(synthesized) -> list[str]:
    """The web group's launch template, as text (its user data names the role)."""
    templates = [json.dumps(t) for t in synthesized.of_type("AWS::EC2::LaunchTemplate").values()]
    return [t for t in templates if "export EV_ROLE=web" in t]


def _worker_launch_data(synthesized) -> list[str]:
    templates = [json.dumps(t) for t in synthesized.of_type("AWS::EC2::LaunchTemplate").values()]
    return [t for t in templates if "export EV_ROLE=worker" in t]


def _worker_group(synthesized) -> dict[str, Any]:
    groups = synthesized.of_type("AWS::AutoScaling::AutoScalingGroup")
    [worker] = [g for name, g in groups.items() if name.startswith("Workers")]
    found: dict[str, Any] = worker
    return found


def test_the_web_role_may_only_raise_the_worker_group(synthesized):
    statements = [s for _, s in _statements(synthesized) if s["Action"] == "autoscaling:SetDesiredCapacity"]
    [statement] = statements
    arn = "".join(p if isinstance(p, str) else "<x>" for p in statement["Resource"]["Fn::Join"][1])
    group = _worker_group(synthesized)
    assert arn.endswith(
        f":autoScalingGroup:*:autoScalingGroupName/{group['Properties']['AutoScalingGroupName']}"
    )


def test_the_fast_path_is_deployed(synthesized):
    """10 s alarms on the web tier's custom metric, the warm pool, the web tier told what to do."""
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm").values()
    fast = [a["Properties"] for a in alarms if a["Properties"].get("Namespace") == "ElasticVision"]
    assert fast and all(a["Period"] == 10 for a in fast)
    [pool] = synthesized.of_type("AWS::AutoScaling::WarmPool").values()
    assert pool["Properties"]["PoolState"] == "Stopped"
    assert pool["Properties"]["InstanceReusePolicy"] == {"ReuseOnScaleIn": True}
    [hook] = synthesized.of_type("AWS::AutoScaling::LifecycleHook").values()
    assert hook["Properties"]["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    [web_data] = _web_launch_data(synthesized)
    for variable in ("EVISION_WORKER_GROUP", "EVISION_DEPTH_METRIC_SECONDS=10.0", "EVISION_WAIT_SECONDS=60"):
        assert f"export {variable}" in web_data, variable


def test_stateful_resources_keep_their_logical_ids(synthesized):
    for logical_id, cfn_type in STATEFUL_LOGICAL_IDS.items():
        assert synthesized.resources[logical_id]["Type"] == cfn_type
    assert len(synthesized.of_type("AWS::S3::Bucket")) == 4  # + the load balancer's access logs
    # Requests and job chunks, each with its dead letters; reply queues are made at run time.
    assert len(synthesized.of_type("AWS::SQS::Queue")) == 4


def test_the_job_queue_reaches_both_roles_with_the_grants_each_needs(synthesized):
    """Workers consume chunks; the web tier sends them and writes off the dead-lettered ones."""
    queues = synthesized.of_type("AWS::SQS::Queue")
    [jobs] = [name for name in queues if name.startswith("QueuesJobs")]
    [dead] = [name for name in queues if name.startswith("QueuesJobDeadLetter")]
    assert queues[jobs]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dead, "Arn"]}
    [web_data] = _web_launch_data(synthesized)
    assert "export EVISION_JOB_QUEUE=" in web_data and "export EVISION_JOB_DEAD_LETTER_QUEUE=" in web_data
    policies = json.dumps(synthesized.of_type("AWS::IAM::Policy"))
    for action in ("sqs:ReceiveMessage", "sqs:SendMessage"):
        assert action in policies
    granted = {
        name: json.dumps(p["Properties"]["PolicyDocument"])
        for name, p in synthesized.of_type("AWS::IAM::Policy").items()
    }
    workers = [doc for name, doc in granted.items() if "Worker" in name]
    web = [doc for name, doc in granted.items() if "Web" in name]
    assert any(jobs in doc and "sqs:ReceiveMessage" in doc for doc in workers)
    assert any(jobs in doc and "sqs:SendMessage" in doc for doc in web)
    assert any(dead in doc for doc in web)
    # Registered models (models/ in the output bucket, `evision model add`) reach the workers.
    [output] = [n for n in synthesized.of_type("AWS::S3::Bucket") if n.startswith("StorageOutput")]
    assert any(output in doc and "s3:GetObject" in doc for doc in workers)


def test_worker_group_and_step_adjustments_come_from_the_shared_policy(synthesized):
    policy = ScalingPolicy()
    group = _worker_group(synthesized)
    assert (int(group["Properties"]["MinSize"]), int(group["Properties"]["MaxSize"])) == (
        policy.min_capacity,
        policy.max_capacity,
    )
    [scale_out] = [
        p["Properties"]
        for name, p in synthesized.of_type("AWS::AutoScaling::ScalingPolicy").items()
        if name.startswith("WorkersScaleOutPolicy")
    ]
    threshold = policy.scale_out_threshold
    expected = [
        {
            "MetricIntervalLowerBound": step.lower - threshold,
            **({} if step.upper is None else {"MetricIntervalUpperBound": step.upper - threshold}),
            "ScalingAdjustment": step.change,
        }
        for step in policy.scale_out_steps
    ]
    assert scale_out["StepAdjustments"] == expected
    alarms = [a["Properties"] for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()]
    visible = [a for a in alarms if a.get("MetricName") == "QueueVisibleMessages"]  # the fast scale-out
    assert [(a["Period"], a["Threshold"], a["EvaluationPeriods"]) for a in visible] == [
        (policy.period_seconds, threshold, policy.scale_out_evaluation_periods)
    ]


def test_outputs_tell_how_to_use_the_deployment(synthesized):
    outputs = synthesized.template["Outputs"]
    for name in (
        "UploadUrl",
        "InputBucketName",
        "OutputBucketName",
        "RequestQueueName",
        "DeadLetterQueueName",
        "ReplyQueuePrefix",
        "WebGroupName",
        "DashboardUrl",
    ):
        assert name in outputs
    upload = outputs["UploadUrl"]["Value"]["Fn::Join"][1]
    assert upload[0] == "http://" and upload[-1] == "/upload"


def test_each_role_gets_a_bundle_with_its_lock_its_wheels_and_the_service_once(synthesized):
    """The default deployment (ONNX Runtime): one bundle for both roles, with no OpenVINO, the model
    once (inside the service's wheel), nothing else."""
    bundles = [
        synthesized.outdir / a["source"]["path"]
        for a in synthesized.assets["files"].values()
        if a["source"]["packaging"] == "zip"
        and (synthesized.outdir / a["source"]["path"] / "build" / "wheelhouse").is_dir()
    ]
    [staged] = bundles
    files = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())
    assert [f for f in files if not f.startswith("build/wheelhouse/")] == ["requirements.lock"]
    wheels = [f.split("/")[-1] for f in files if f.startswith("build/wheelhouse/")]
    assert all(w.endswith(".whl") for w in wheels)
    assert not any(w.startswith("openvino") for w in wheels)
    [service] = [w for w in wheels if w.startswith("elastic_vision-")]
    with zipfile.ZipFile(staged / "build" / "wheelhouse" / service) as wheel:
        names = wheel.namelist()
    assert "services/cli.py" in names and any(n.startswith("model/") and n.endswith(".onnx") for n in names)
    assert not any(n.endswith(".onnx") for n in files)  # the model travels once, in the wheel


def test_the_synth_summary_names_each_template_and_its_resource_count(synthesized):
    from infra.synth_summary import summary

    [line] = summary(synthesized.outdir)
    count = len(synthesized.resources)
    assert line.startswith(f"synthesized ElasticVision-dev: {count} resources (")
    assert str(synthesized.outdir / "ElasticVision-dev.template.json") in line


def test_every_feature_flag_is_configured(synthesized):
    """No "N feature flags are not configured" notice from the CLI: the app's own flag report."""
    import json

    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    [report] = [a for a in manifest["artifacts"].values() if a["type"] == "cdk:feature-flag-report"]
    unconfigured = [
        name
        for name, flag in report["properties"]["flags"].items()
        if "userValue" not in flag
        and flag.get("unconfiguredBehavesLike", {}).get("v2", False) != flag.get("recommendedValue")
    ]
    assert unconfigured == []


def test_with_https_waf_api_keys_and_webhooks_the_app_is_nag_clean_and_grants_each_parameter(
    synthesized_front_door,
):
    [report] = synthesized_front_door.validation_report["pluginReports"]
    assert (report["conclusion"], report["violations"]) == ("success", [])
    listeners = synthesized_front_door.of_type("AWS::ElasticLoadBalancingV2::Listener").values()
    assert sorted(x["Properties"]["Port"] for x in listeners) == [80, 443]
    [acl] = synthesized_front_door.of_type("AWS::WAFv2::WebACL").values()
    assert acl["Properties"]["Rules"][0]["Statement"]["RateBasedStatement"]["Limit"] == 1000
    reads = [s for _, s in _statements(synthesized_front_door) if s["Action"] == "ssm:GetParameter"]
    resources = [
        r
        for read in reads
        for r in (read["Resource"] if isinstance(read["Resource"], list) else [read["Resource"]])
    ]
    arns = sorted("".join(p if isinstance(p, str) else "<x>" for p in r["Fn::Join"][1]) for r in resources)
    assert [arn.rsplit(":parameter", 1)[1] for arn in arns] == [
        "/evision/api-keys",
        "/evision/webhook-secret",
    ]
    [web] = _web_launch_data(synthesized_front_door)
    assert "export EVISION_API_KEYS_PARAMETER=/evision/api-keys" in web
    assert "export EVISION_WEBHOOK_SECRET_PARAMETER=/evision/webhook-secret" in web
    assert "export EVISION_RATE_LIMIT_PER_SECOND=5.0" in web
    upload = synthesized_front_door.template["Outputs"]["UploadUrl"]["Value"]["Fn::Join"][1]
    assert upload[0] == "https://"


def _grants(synthesized, role: str) -> set[tuple[str, str]]:
    """(action, resource) of a role's statements, a resource's Fn::Join flattened."""
    found = set()
    for name, statement in _statements(synthesized):
        if name.startswith(role):
            for resource in _as_list(statement["Resource"]):
                if isinstance(resource, dict) and "Fn::Join" in resource:
                    resource = "".join(p if isinstance(p, str) else "<x>" for p in resource["Fn::Join"][1])
                for action in _as_list(statement["Action"]):
                    found.add((action, str(resource)))
    return found


def test_job_buckets_of_the_owner_are_listed_by_the_web_tier_read_by_workers_written_by_the_web(
    synthesized_front_door,
):
    worker, web = _grants(synthesized_front_door, "WorkersRole"), _grants(synthesized_front_door, "WebRole")
    for bucket in ("my-photos", "more-photos"):
        assert ("s3:GetObject", f"arn:<x>:s3:::{bucket}/*") in worker
        assert ("s3:ListBucket", f"arn:<x>:s3:::{bucket}") in worker | web
        assert ("s3:ListBucket", f"arn:<x>:s3:::{bucket}") in web
        assert ("s3:GetObject", f"arn:<x>:s3:::{bucket}/*") not in web  # no standby here
    assert ("s3:PutObject", "arn:<x>:s3:::my-labels/*") in web
    assert not {g for g in worker if "my-labels" in g[1]}  # only the web tier writes outputs
    named = {g[1].split(":::")[1].split("/")[0] for g in _grants(synthesized_front_door, "") if ":::" in g[1]}
    assert named - {"<x>"} == {"my-photos", "more-photos", "my-labels"}  # the stack's own: <x>
    key = FRONT_DOOR_CONTEXT["jobKmsKeys"]  # their objects' customer-managed key, exactly
    assert ("kms:Decrypt", key) in worker and ("kms:GenerateDataKey", key) in web
    assert ("kms:GenerateDataKey", key) not in worker
    assert {g for g in _grants(synthesized_front_door, "") if g[0].startswith("kms:")} <= {
        ("kms:Decrypt", key),
        ("kms:GenerateDataKey", key),
    }


def test_a_failed_launch_is_replaced_never_recycled(synthesized):
    """The launch hook exists before the warm pool and ABANDONs by default (at its timeout too): an
    instance whose install failed is terminated and replaced, never stopped into the pool."""
    [(hook_id, hook)] = synthesized.of_type("AWS::AutoScaling::LifecycleHook").items()
    assert hook["Properties"]["DefaultResult"] == "ABANDON"
    assert hook["Properties"]["HeartbeatTimeout"] == LAUNCH_TIMEOUT.to_seconds()
    [pool] = synthesized.of_type("AWS::AutoScaling::WarmPool").values()
    assert hook_id in pool.get("DependsOn", [])
    # Both roles may report their own instance Unhealthy; the user data names the group and hook.
    [worker_data] = _worker_launch_data(synthesized)
    assert f"export EV_LAUNCH_HOOK={LAUNCH_HOOK}" in worker_data
    [web_data] = _web_launch_data(synthesized)
    for role_data in (worker_data, web_data):
        assert "export EV_GROUP=" in role_data


def test_destroy_leaves_no_reply_queue_and_no_bucket_that_could_fail_it(synthesized):
    """Reply queues are made at run time: a custom resource deletes the stack's prefix on delete,
    after the web group (which depends on it). The access-log bucket is kept by design (logs arrive
    after the load balancer is gone) and empties itself; no auto-delete that could fail destroy."""
    [cleanup_id] = [
        k for k, r in synthesized.resources.items() if r["Type"] == "AWS::CloudFormation::CustomResource"
    ]
    cleanup = synthesized.resources[cleanup_id]
    assert cleanup["Properties"]["Prefix"] == "ElasticVision-dev-replies"
    web_group = next(
        r for k, r in synthesized.of_type("AWS::AutoScaling::AutoScalingGroup").items() if k.startswith("Web")
    )
    assert cleanup_id in web_group["DependsOn"]
    function = next(
        r
        for r in synthesized.of_type("AWS::Lambda::Function").values()
        if "reply queues" in r["Properties"].get("Description", "")
    )
    code = function["Properties"]["Code"]["ZipFile"]
    assert 'event["RequestType"] == "Delete"' in code and "delete_queue" in code
    # Both log buckets (the load balancer's, and the buckets' server access logs) are kept and
    # empty themselves; only the data buckets are emptied on destroy (dev).
    deleters = synthesized.of_type("Custom::S3AutoDeleteObjects").values()
    emptied = {r["Properties"]["BucketName"]["Ref"] for r in deleters}
    for name, bucket in synthesized.of_type("AWS::S3::Bucket").items():
        if "AccessLogs" in name:
            assert bucket["DeletionPolicy"] == "Retain" and name not in emptied, name
            assert bucket["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] <= 90
        else:
            assert bucket["DeletionPolicy"] == "Delete" and name in emptied, name


def test_logs_go_where_aws_users_look(synthesized):
    """One log group per role with the configured retention; each role ships into its own group and
    the bootstrap's; the instances log JSON lines; the dashboard queries their errors; the
    dead-letter alarm notifies the stack's topic."""
    groups = synthesized.of_type("AWS::Logs::LogGroup")
    by_role = {name: r for name, r in groups.items() if name.startswith("Logs")}
    assert len(by_role) == 3 and all(r["Properties"]["RetentionInDays"] == 30 for r in by_role.values())
    assert all(r["DeletionPolicy"] == "Delete" for r in by_role.values())  # dev
    [worker_data] = _worker_launch_data(synthesized)
    [web_data] = _web_launch_data(synthesized)
    for data in (worker_data, web_data):
        assert "export EVISION_LOG_FORMAT=json" in data
        assert "export EV_LOG_GROUP=" in data and "export EV_BOOTSTRAP_LOG_GROUP=" in data
    for name, statement in _statements(synthesized):
        if name.startswith(("WorkersRole", "WebRole")) and "logs:PutLogEvents" in _as_list(
            statement["Action"]
        ):
            shipped = json.dumps(statement["Resource"])
            own = "LogsWorker" if name.startswith("WorkersRole") else "LogsWeb"
            other = "LogsWeb" if own == "LogsWorker" else "LogsWorker"
            assert own in shipped and "LogsBootstrap" in shipped and other not in shipped, name
    [dashboard] = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "filter level in" in body and all(name in body for name in by_role)
    [topic_id] = synthesized.of_type("AWS::SNS::Topic")
    dead_letters = next(
        r
        for r in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if "dead letters" in r["Properties"].get("AlarmDescription", "")
    )
    assert dead_letters["Properties"]["AlarmActions"] == [{"Ref": topic_id}]


def _request_queue_consumers(synthesized) -> set[str]:
    """The roles that may receive from the request queue (its logical id starts with QueuesRequest)."""
    roles = set()
    for name, statement in _statements(synthesized):
        if "sqs:ReceiveMessage" in _as_list(statement["Action"]):
            resources = json.dumps(statement["Resource"])
            if '"QueuesRequest' in resources:
                roles.add(name.split("DefaultPolicy")[0])
    return roles


def test_web_instances_run_a_bounded_standby_worker_for_the_worker_group(synthesized):
    [web] = _web_launch_data(synthesized)
    group = _worker_group(synthesized)["Properties"]["AutoScalingGroupName"]
    assert "export EV_STANDBY_WORKERS=1" in web
    assert f"export EVISION_STANDBY_GROUP={group}" in web
    assert "export EVISION_THREADS=1" in web and "export EVISION_ENGINE=onnxruntime" in web
    assert "export EV_STANDBY_MEMORY_MAX=640M" in web
    # It consumes requests as a worker does: the web role may receive from the request queue.
    assert _request_queue_consumers(synthesized) == {"WorkersRole", "WebRole"}


def test_standby_workers_0_deploys_none(synthesized_front_door):
    [web] = _web_launch_data(synthesized_front_door)
    assert "export EV_STANDBY" not in web and "export EVISION_STANDBY_GROUP" not in web
    assert _request_queue_consumers(synthesized_front_door) == {"WorkersRole"}


def test_the_web_role_may_presign_job_uploads_into_the_input_bucket_and_workers_read_them(synthesized):
    """A presigned PUT carries its signer's permissions: the web role needs s3:PutObject on the
    input bucket's job-uploads/ prefix (its grant on the bucket's objects covers it) and
    s3:ListBucket there (which staged keys are present); the workers read the staged images."""
    buckets = synthesized.of_type("AWS::S3::Bucket")
    [input_bucket] = [name for name in buckets if name.startswith("StorageInput")]
    objects = {"Fn::Join": ["", [{"Fn::GetAtt": [input_bucket, "Arn"]}, "/*"]]}
    bucket = {"Fn::GetAtt": [input_bucket, "Arn"]}

    def granted(role: str, action: str, resource: object) -> bool:
        return any(
            name.startswith(role) and action in _as_list(s["Action"]) and resource in _as_list(s["Resource"])
            for name, s in _statements(synthesized)
        )

    assert granted("WebRole", "s3:PutObject", objects)
    assert granted("WebRole", "s3:ListBucket", bucket)
    assert granted("WorkersRole", "s3:GetObject", objects)
