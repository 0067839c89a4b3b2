"""The operations page names every alarm the stack creates, with what it means and what to do."""

from __future__ import annotations

import re
from pathlib import Path

from tests.infra.synthesis import Synthesized

ROOT = Path(__file__).resolve().parents[2]


def _documented_alarms() -> dict[str, str]:
    """Alarm name -> its row in the operations page's alarm table (`name` cells, backticked)."""
    rows = {}
    for line in (ROOT / "docs" / "operations.md").read_text().splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            for name in re.findall(r"`(\w+)`", first):
                rows[name] = line
    return rows


def test_every_alarm_of_the_stack_is_in_the_operations_page(synthesized: Synthesized) -> None:
    documented = _documented_alarms()
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 6
    undocumented = []
    for logical_id in alarms:
        # CDK's logical id: the construct path's ids joined, then a hash; the alarm's own id last.
        named = [n for n in documented if re.search(rf"(^|[a-z0-9]){n}(Alarm)?[0-9A-F]{{8}}$", logical_id)]
        if not named:
            undocumented.append(logical_id)
    assert not undocumented, f"alarms the operations page does not name: {undocumented}"
    for row in documented.values():
        means, do = row.split("|")[2:4]
        assert means.strip() and do.strip(), row
