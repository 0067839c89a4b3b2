"""The web tier loads no NumPy, no inference engine and no image decoder (ARCHITECTURE.md §2: only
the classifier port needs NumPy): its processes stay small, and a web instance's start stays fast.

Checked in a fresh interpreter, where nothing else has loaded them first.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numpy", "onnxruntime", "openvino", "PIL", "simplejpeg")


def test_the_web_app_and_its_routes_load_no_numpy_engine_or_decoder() -> None:
    probe = (
        "import json, sys\n"
        "from services.web.main import create_app\n"
        "from services.web.settings import WebSettings\n"
        "create_app(WebSettings())\n"
        f"print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
