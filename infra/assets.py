"""The service bundle: one CDK asset with everything an instance installs with `pip install`.

services/ + model/ (including the ~18 MB ONNX model) + pyproject.toml (+ README.md, which
pyproject.toml names as the readme) + requirements.lock and build/wheelhouse/ (every runtime
dependency as a wheel for the instances' platform, infra/wheelhouse.py), so that an instance
installs with no package index. One archive rather than separate code and model assets: the
model is package data of the `model` package, so one `pip install` puts both where the code
expects them, and code and model always travel as a matching pair. CDK zips the directory and
uploads it to the bootstrap bucket on deploy; its key is the content hash.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

# An allow-list (everything else in the repository stays out: tests, .venv, node_modules,
# cdk.out - which would otherwise contain itself -, .git, local data).
BUNDLE_INCLUDES = (
    "services",
    "model",
    "pyproject.toml",
    "README.md",
    "requirements.lock",
    "requirements-openvino.lock",
    "build/wheelhouse",
)
BUNDLE_EXCLUDES = (
    "*",
    *(f"!{name}" for name in BUNDLE_INCLUDES),
    "!build",
    "!services/**",
    "!model/**",
    "!build/wheelhouse/**",
    "**/__pycache__",
    "**/*.pyc",
    "**/.*",
    "model/*.onnx.data",  # export by-product; the committed model is one self-contained file
)


class ServiceBundle(Construct):
    """The asset; instances download it with `aws s3 cp` from `url` (read access: `grant_read`)."""

    def __init__(self, scope: Construct, construct_id: str, *, source_dir: Path) -> None:
        super().__init__(scope, construct_id)
        missing = [name for name in BUNDLE_INCLUDES if not (source_dir / name).exists()]
        if missing:
            hint = " (run `make wheelhouse`)" if "build/wheelhouse" in missing else ""
            raise FileNotFoundError(f"service bundle source {source_dir} lacks {missing}{hint}")
        self.asset = s3_assets.Asset(self, "Asset", path=str(source_dir), exclude=list(BUNDLE_EXCLUDES))

    @property
    def url(self) -> str:
        """s3://bucket/key of the archive (tokens)."""
        return self.asset.s3_object_url

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """s3:GetObject on exactly this object (not the whole CDK assets bucket)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.asset.bucket.arn_for_objects(self.asset.s3_object_key)],
            )
        )
