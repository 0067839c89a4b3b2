"""The ports are the only seam (ARCHITECTURE.md §2): the rules hold for the project's code, and the
checker catches each kind of breach in a small tree made to break them."""

from __future__ import annotations

from tests.import_rules import project_sources, violations


def test_the_project_keeps_the_import_rules() -> None:
    sources = project_sources()
    assert "services.worker.pipeline" in sources and "app" in sources  # it reads the real tree
    assert violations(sources) == []


def test_each_kind_of_breach_is_caught() -> None:
    tree = {
        "services": "",
        "services.worker": "",
        "services.worker.loop": "import boto3\nfrom services.adapters.aws.sqs import SqsQueue\n",
        "services.web": "",
        "services.web.form": "from model.engines import EngineName\nimport model.formats\n",
        "services.web.page": "from model import sniff\n",  # the public entry: allowed
        "services.adapters": "",
        "services.adapters.aws": "",
        "services.adapters.aws.sqs": "import botocore\n",  # inside the adapters: allowed
        "services.a": "from services import b\n",
        "services.b": "def late():\n    from services.a import x\n",
        "services.jobs": "",
        "services.jobs.chunks": "from services.worker.models import ModelPool\n",
        "model": "",
        "model.engines": "",
        "model.formats": "from services.contract import ErrorKind\n",
    }
    found = violations(tree)
    expected = [
        "services.worker.loop:1 imports boto3: only services/adapters/ may reach a backend",
        "services.worker.loop:2 imports services.adapters.aws.sqs.SqsQueue: only services/adapters/ may "
        "reach a backend",
        "services.web.form:1 imports model.engines.EngineName: services/ imports only `model` itself "
        "(its public entry)",
        "services.web.form:2 imports model.formats: services/ imports only `model` itself (its public entry)",
        "model.formats:1 imports services.contract.ErrorKind: model/ is a library of its own",
        "import cycle: services.a -> services.b -> services.a",
        "services.jobs.chunks:1 imports services.worker.models.ModelPool: services.jobs may not import "
        "services.worker, services.web",
    ]
    assert sorted(found) == sorted(expected)
