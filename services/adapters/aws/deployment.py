"""The aws backend's deployment-checks role: the preflight probe, and secrets in SSM."""

from __future__ import annotations

from botocore.exceptions import ClientError

from services.adapters.aws.clients import AwsClients
from services.ports.deployment import PreflightProbe


class AwsDeployment:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    def preflight_probe(self) -> PreflightProbe:
        from services.adapters.aws.preflight import AwsPreflightProbe

        return AwsPreflightProbe(self._clients.client)

    def read_secret(self, name: str) -> str:
        # GetParameter with decryption. The AWS managed key aws/ssm grants Decrypt to every IAM
        # principal of the account, so ssm:GetParameter on the parameter is all the role needs
        # (Systems Manager user guide, "Restricting decryption of SecureString parameter values").
        ssm = self._clients.client("ssm")
        try:
            value: str = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except ClientError as error:
            detail = error.response.get("Error", {})
            code = detail.get("Code", "")
            if code in ("ParameterNotFound", "ParameterVersionNotFound"):
                region = ssm.meta.region_name
                raise LookupError(f"no SSM parameter {name!r} in {region}") from None
            # AccessDeniedException (IAM), or a customer-managed KMS key the role may not use
            # (KMS's AccessDeniedException / KMS.* codes), or a malformed name (ValidationException).
            message = detail.get("Message", "")
            raise PermissionError(f"SSM parameter {name!r} unreadable: {code}: {message}") from None
        finally:
            ssm.close()
        return value
