"""The service bundles: one CDK asset per lock, with everything an instance installs, offline.

A bundle is a directory `infra/wheelhouse.py` stages (`make wheelhouse`): the lock and
build/wheelhouse/ with the wheels it pins and the service's own wheel, which carries the code and
the model (package data of `model`, so code and model always travel as a matching pair, once).
A web instance gets the base bundle; a worker the base one, or the OpenVINO one where the
deployment's engine needs it. The same commit stages the same bytes (the service wheel is built
reproducibly), so the asset hashes, the launch templates and the template stay the same from one
synthesis to the next. CDK zips the directory and uploads it to the bootstrap bucket on deploy;
its key is the content hash. The instance bootstrap script travels beside it as a file asset of its
own (EC2's user data is too small for it; infra/user_data.py), also keyed by its hash.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from infra.user_data import BOOTSTRAP_SCRIPT

WHEELHOUSE = "build/wheelhouse"
SERVICE_WHEEL = "elastic_vision-*.whl"


class ServiceBundle(Construct):
    """The asset; instances download it with `aws s3 cp` from `url` (read access: `grant_read`)."""

    def __init__(self, scope: Construct, construct_id: str, *, source_dir: Path, lock: str) -> None:
        super().__init__(scope, construct_id)
        self.lock = lock
        if not (source_dir / lock).is_file() or not any((source_dir / WHEELHOUSE).glob(SERVICE_WHEEL)):
            raise FileNotFoundError(
                f"service bundle {source_dir} lacks {lock} or the service's wheel (run `make wheelhouse`)"
            )
        self.asset = s3_assets.Asset(self, "Asset", path=str(source_dir))
        self.bootstrap = s3_assets.Asset(self, "Bootstrap", path=str(BOOTSTRAP_SCRIPT))

    @property
    def url(self) -> str:
        """s3://bucket/key of the archive (tokens)."""
        return self.asset.s3_object_url

    @property
    def bootstrap_url(self) -> str:
        """s3://bucket/key of the bootstrap script the user data runs (tokens)."""
        return self.bootstrap.s3_object_url

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """s3:GetObject on this stack's assets (app.py gives them a key prefix of their own), not the
        whole CDK assets bucket; without a prefix, on exactly these objects.

        The prefix keeps the previous bundle readable through an update: CloudFormation updates the
        role's policy before the groups take the new launch template, and an instance launched in
        between still downloads the previous bundle."""
        keys = [self.asset.s3_object_key, self.bootstrap.s3_object_key]
        prefix = asset_prefix(self.asset.s3_object_key)
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[
                    self.asset.bucket.arn_for_objects(key) for key in ([f"{prefix}*"] if prefix else keys)
                ],
            )
        )


def asset_prefix(key: str) -> str:
    """The key prefix of a stack's assets ("ElasticVision-dev/"), or "" when it has none."""
    return key.rpartition("/")[0] + "/" if "/" in key else ""
