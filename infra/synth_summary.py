"""`make synth`'s closing lines: where each stack's template went and what is in it.

python -m infra.synth_summary cdk.out
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def summary(outdir: Path) -> list[str]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    lines = []
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = outdir / artifact["properties"]["templateFile"]
        resources = json.loads(template.read_text()).get("Resources", {})
        kinds = Counter(r["Type"].split("::", 1)[1] for r in resources.values())
        top = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common(4))
        lines.append(f"synthesized {name}: {len(resources)} resources ({top}, ...) in {template}")
    return lines or [f"no stack templates in {outdir}"]


def main(argv: list[str]) -> int:
    outdir = Path(argv[0] if argv else "cdk.out")
    for line in summary(outdir):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
