"""User data as EC2 receives it: the synthesized template's intrinsic functions resolved.

CloudFormation resolves `Fn::Base64`, `Fn::Join`, `Fn::Sub`, `Ref` and `Fn::GetAtt` before EC2
sees the user data, so its size and its text depend on the values of those tokens. `Resolver`
does what CloudFormation does, with the values a caller chooses: the longest plausible ones
(`worst_case`, for EC2's 16 KB limit) or a sandbox's own (tests/infra/test_bootstrap.py). A token
of a kind it has no value for raises, so a new kind of token cannot slip past unmeasured.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Resource = Mapping[str, Any]
# (logical id, its resource, attribute or None for Ref) -> the value CloudFormation would give
Lookup = Callable[[str, Resource, str | None], str]

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class Resolver:
    resources: Mapping[str, Resource]
    pseudo: Mapping[str, str]  # AWS::Region, AWS::AccountId, ...
    lookup: Lookup

    def resolve(self, node: Any) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            return str(node)
        if isinstance(node, dict) and len(node) == 1:
            [(function, argument)] = node.items()
            if function == "Ref":
                return self._ref(argument)
            if function == "Fn::GetAtt":
                name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.lookup(name, self.resources[name], attribute)
            if function == "Fn::Join":
                separator, parts = argument
                return str(separator).join(self.resolve(part) for part in parts)
            if function == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                return _SUB_VARIABLE.sub(
                    lambda m: self.resolve(variables[m[1]]) if m[1] in variables else self._sub(m[1]), text
                )
            if function == "Fn::Base64":
                return base64.b64encode(self.resolve(argument).encode()).decode()
            if function == "Fn::Select":
                index, values = argument
                return self._list(values)[int(self.resolve(index))]
        raise KeyError(f"no resolution for {node!r}")

    def _list(self, node: Any) -> list[str]:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if isinstance(node, dict) and "Fn::Split" in node:
            separator, text = node["Fn::Split"]
            return self.resolve(text).split(separator)
        raise KeyError(f"no list resolution for {node!r}")

    def _ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        return self.lookup(name, self.resources[name], None)

    def _sub(self, variable: str) -> str:
        if "." in variable:
            name, attribute = variable.split(".", 1)
            return self.lookup(name, self.resources[name], attribute)
        return self._ref(variable)


def user_data(resolver: Resolver, launch_template: Resource) -> str:
    """The raw user data EC2 gets (decoded from the template's Fn::Base64)."""
    encoded = launch_template["Properties"]["LaunchTemplateData"]["UserData"]
    return base64.b64decode(resolver.resolve(encoded)).decode()


# The longest plausible values (2026-12): the longest region code ("ap-southeast-5" and the like,
# 14 characters), the longest partition ("aws-us-gov") and URL suffix ("amazonaws.com.cn").
REGION = "ap-southeast-5"
PARTITION = "aws-us-gov"
ACCOUNT = "123456789012"
UUID = "0" * 36
# Names CloudFormation generates for unnamed resources: "<stack>-<logical id>-<random>", cut at the
# type's limit (S3 "Bucket naming rules": 63; SQS CreateQueue QueueName: 80; CloudWatch Logs
# CreateLogGroup logGroupName: 512; SNS CreateTopic Name: 256; ELB target group name: 32).
NAME_LIMITS = {
    "AWS::S3::Bucket": 63,
    "AWS::SQS::Queue": 80,
    "AWS::Logs::LogGroup": 512,
    "AWS::SNS::Topic": 256,
}
RANDOM_SUFFIX = 13


def worst_case(template: Mapping[str, Any], stack_name: str) -> Resolver:
    """A resolver giving every token the longest value it can plausibly have in `stack_name`."""
    return deployed(template, stack_name, region=REGION, partition=PARTITION, url_suffix="amazonaws.com.cn")


def deployed(
    template: Mapping[str, Any],
    stack_name: str,
    *,
    region: str = "us-east-1",
    account: str = ACCOUNT,
    partition: str = "aws",
    url_suffix: str = "amazonaws.com",
) -> Resolver:
    """A resolver giving each token the value CloudFormation would give it in `stack_name` deployed
    in `region` (generated names: at their longest)."""
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": partition,
        "AWS::URLSuffix": url_suffix,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/{UUID}",
    }

    def generated(logical_id: str, cfn_type: str) -> str:
        name = f"{stack_name}-{logical_id}-{'x' * RANDOM_SUFFIX}"[: NAME_LIMITS[cfn_type]]
        # S3 bucket names are lower case: CloudFormation lowers the generated one (same length).
        return name.lower() if cfn_type == "AWS::S3::Bucket" else name

    def lookup(logical_id: str, resource: Resource, attribute: str | None) -> str:
        cfn_type = resource["Type"]
        if cfn_type == "AWS::ElasticLoadBalancingV2::TargetGroup" and attribute in (None, "TargetGroupArn"):
            target_group = f"targetgroup/{'t' * 32}/{'0' * 16}"
            return f"arn:{partition}:elasticloadbalancing:{region}:{account}:{target_group}"
        if cfn_type not in NAME_LIMITS:
            raise KeyError(f"no worst-case value for {cfn_type} {logical_id} {attribute or 'Ref'}")
        explicit = _explicit_name(resource)
        name = generated(logical_id, cfn_type) if explicit is None else resolver.resolve(explicit)
        if cfn_type == "AWS::SQS::Queue":
            url = f"https://sqs.{region}.{url_suffix}/{account}/{name}"
            arn = f"arn:{partition}:sqs:{region}:{account}:{name}"
            return {None: url, "QueueName": name, "QueueUrl": url, "Arn": arn}[attribute]
        if cfn_type == "AWS::SNS::Topic" and attribute in (None, "TopicArn"):
            return f"arn:{partition}:sns:{region}:{account}:{name}"
        if attribute is None:
            return name
        if attribute == "Arn":
            return {
                "AWS::S3::Bucket": f"arn:{partition}:s3:::{name}",
                "AWS::SQS::Queue": f"arn:{partition}:sqs:{region}:{account}:{name}",
                "AWS::Logs::LogGroup": f"arn:{partition}:logs:{region}:{account}:log-group:{name}:*",
                "AWS::SNS::Topic": f"arn:{partition}:sns:{region}:{account}:{name}",
            }[cfn_type]
        raise KeyError(f"no worst-case value for {cfn_type} {logical_id} {attribute or 'Ref'}")

    resolver = Resolver(resources=template["Resources"], pseudo=pseudo, lookup=lookup)
    return resolver


def _explicit_name(resource: Resource) -> object:
    properties = resource.get("Properties", {})
    for key in ("BucketName", "QueueName", "LogGroupName"):
        if key in properties:
            return properties[key]
    return None
