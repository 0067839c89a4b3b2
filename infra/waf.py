"""An optional AWS WAF web ACL on the load balancer: a rate-based rule per client IP.

The web tier's own rate limit is per process; this one counts a client across every web
instance. AWS WAF counts requests per IP over a 5-minute window by default and blocks an IP while
it is over `limit` (AWS WAF developer guide, "Rate-based rule statement"; the lowest limit is 10).
"""

from __future__ import annotations

from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

MIN_LIMIT = 10


class RateLimitAcl(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, resource_arn: str, limit: int) -> None:
        super().__init__(scope, construct_id)
        if limit < MIN_LIMIT:
            raise ValueError(f"a WAF rate limit must be at least {MIN_LIMIT} requests per 5 minutes")

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        self.acl = wafv2.CfnWebACL(
            self,
            "Acl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility("evision-web-acl"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-per-ip",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=limit, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=visibility("evision-rate-per-ip"),
                )
            ],
        )
        wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=resource_arn, web_acl_arn=self.acl.attr_arn
        )
