"""The ports are the only seam (ARCHITECTURE.md §2): the rules hold for the project's code, and the
checker catches each kind of breach in a small tree made to break them."""

from __future__ import annotations

from tests.import_rules import cross_test_imports, project_sources, sources_of_tests, violations


def test_the_project_keeps_the_import_rules() -> None:
    sources = project_sources()
    assert "services.worker.pipeline" in sources and "app" in sources  # it reads the real tree
    assert violations(sources) == []


def test_no_test_module_imports_another_or_a_conftest() -> None:
    tree = sources_of_tests()
    assert "tests.fixtures" in tree and "tests.web.test_routes" in tree  # it reads the real tree
    assert cross_test_imports(tree) == []


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
        "services.jobs.chunks": "from services.worker.model_pool import ModelPool\n",
        "services.jobs.webhook": "import importlib\nhook = importlib.import_module('services.web.main')\n",
        "services.web.late": "def late():\n    return __import__('services.worker.runner')\n",
        "services.web.chosen": "import importlib\nimportlib.import_module(name)\n",  # computed: not ours
        "services.adapters.local": "from services.jobs.store import JobStore\nimport httpx\n",
        "services.worker.fast": "import orjson\nimport numpy\nimport json\n",  # numpy: listed; json: stdlib
        "services.ports": "",
        "services.ports.storage": "import numpy\nfrom services.models.errors import UnknownModelError\n",
        "services.ports.classifier": "import numpy\nfrom services.contract import ErrorKind\n",  # allowed
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
        "services.jobs.chunks:1 imports services.worker.model_pool.ModelPool: services.jobs may not import "
        "services.worker, services.web",
        "services.jobs.webhook:2 imports services.web.main: services.jobs may not import services.worker, "
        "services.web",
        "services.web.late:2 imports services.worker.runner: services.web may not import services.worker",
        "services.adapters.local:1 imports services.jobs.store.JobStore: services.adapters may not import "
        "services.web, services.worker, services.jobs",
        "services.adapters.local:2 imports httpx: httpx is not on its package's list (THIRD_PARTY)",
        "services.worker.fast:1 imports orjson: orjson is not on its package's list (THIRD_PARTY)",
        "services.ports.storage:1 imports numpy: numpy is not on its package's list (THIRD_PARTY)",
        "services.ports.storage:2 imports services.models.errors.UnknownModelError: services.ports may not "
        "import services.adapters, services.bench, services.commands, services.elasticity, services.jobs, "
        "services.loadgen, services.models, services.preflight, services.web, services.worker",
    ]
    assert sorted(found) == sorted(expected)


def test_a_test_module_importing_another_or_a_conftest_is_caught() -> None:
    tree = {
        "tests": "",
        "tests.conftest": "",
        "tests.fixtures": "from tests.worker.poison import POISON\n",  # a helper module: allowed
        "tests.e2e": "",
        "tests.worker": "",
        "tests.worker.poison": "",
        "tests.e2e.conftest": "from tests.conftest import x\n",
        "tests.e2e.test_a": "from tests.fixtures import settings_for\nfrom tests.e2e.test_b import NAMES\n",
        "tests.e2e.test_b": "from tests.e2e import conftest\nimport tests.e2e.test_a\n",
        "tests.model": "",
        "tests.model.test_c": "from tests.model.conftest import encode\n",
    }
    assert sorted(cross_test_imports(tree, not_yet=("tests.model",))) == [
        "tests.e2e.conftest:1 imports tests.conftest.x: a conftest (helpers: tests/fixtures.py)",
        "tests.e2e.test_a:2 imports tests.e2e.test_b.NAMES: a test module",
        "tests.e2e.test_b:1 imports tests.e2e.conftest: a conftest (helpers: tests/fixtures.py)",
        "tests.e2e.test_b:2 imports tests.e2e.test_a: a test module",
    ]
