"""EC2's user-data limit, checked on what EC2 would get: every launch template's user data,
rendered from the synthesized template with the longest plausible value for each token.

EC2 takes at most 16 KB of user data, raw, before base64; RunInstances refuses a longer one
("Member must have length less than or equal to 21847", its base64 form) and so the first
`cdk deploy` fails (EC2 User Guide, "Run commands when you launch an EC2 instance with user data
input"; 2026-12).
"""

from __future__ import annotations

import subprocess

import pytest

from tests.infra.rendered import user_data, worst_case
from tests.infra.synthesis import STACK, Synthesized

LIMIT = 16 * 1024
# The stage with the longest stack name (app.py names the stack ElasticVision-<stage>).
LONGEST_STACK_NAME = "ElasticVision-prod"


def sizes(synthesized: Synthesized) -> dict[str, int]:
    resolver = worst_case(synthesized.template, LONGEST_STACK_NAME)
    return {
        name: len(user_data(resolver, template).encode())
        for name, template in synthesized.of_type("AWS::EC2::LaunchTemplate").items()
    }


@pytest.mark.parametrize("synthesis", ["synthesized", "synthesized_every_option"])
def test_every_launch_templates_user_data_fits_ec2s_limit_with_worst_case_tokens(synthesis, request):
    measured = sizes(request.getfixturevalue(synthesis))
    assert len(measured) == 2  # the web tier's and the workers'
    print(f"{synthesis}: user data bytes of {LIMIT}: {measured}")
    for name, size in measured.items():
        assert size <= LIMIT, f"{name}: {size} bytes of user data, EC2 takes {LIMIT}"


def test_the_worst_case_is_worse_than_the_synthesized_stack_name(synthesized):
    """The measure is not vacuous: the same user data with the dev stack's own (shorter) values
    is smaller, and every launch template's user data is the stub running the bootstrap."""
    worst = sizes(synthesized)
    plain = worst_case(synthesized.template, STACK)
    for name, template in synthesized.of_type("AWS::EC2::LaunchTemplate").items():
        text = user_data(plain, template)
        assert len(text.encode()) < worst[name]
        assert text.startswith("#!/bin/bash\n") and 'exec bash "$bootstrap"' in text
        assert "export EV_BOOTSTRAP_URL='s3://cdk-" in text
        subprocess.run(["bash", "-n"], input=text, text=True, check=True)  # resolved, still valid shell
