#!/usr/bin/env python3
"""The CDK app: the whole Elastic Vision service on AWS in one stack (see infra/).

The only place that reads CDK context (cdk.json, or `-c key=value`): `stage` (dev | prod) and
every key of `infra.config.CONTEXT_KEYS` (each with its default and meaning in `ServiceConfig`;
the README lists them). Every synthesis runs the cdk-nag AwsSolutions checks; an unacknowledged
finding fails it.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import CONTEXT_KEYS, FEATURE_FLAGS, ServiceConfig
from infra.stack import ServiceStack

ROOT = Path(__file__).resolve().parent


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App(context=dict(FEATURE_FLAGS))
    stage = str(app.node.try_get_context("stage") or "dev")
    context = {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}
    config = ServiceConfig.for_stage(stage, context)
    # Environment-agnostic on purpose: `cdk deploy` targets the credentials' account and region,
    # and synthesis needs no lookups (cdk.context.json holds only the pinned images, `amiIds`,
    # that `evision ami pin` writes), so CI and deploy produce one template.
    name = f"ElasticVision-{config.stage}"
    ServiceStack(
        app,
        name,
        # The stack's assets under a prefix of their own in the CDK assets bucket: instances may
        # read this stack's bundles (the previous one too, during an update), no other stack's.
        synthesizer=cdk.DefaultStackSynthesizer(bucket_prefix=f"{name}/"),
        config=config,
        source_dir=ROOT,
        description="Elastic Vision: image recognition as a service (web tier, SQS, elastic ONNX workers)",
    )
    cdk.Tags.of(app).add("project", "elastic-vision")
    cdk.Tags.of(app).add("stage", config.stage)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
