"""Monitoring during a drill (issue 6): the site-down alert fires while Brindisi is lost and
clears after failback. The coordinator's "declare a disaster" step waits for that alert, as a
real coordinator would act on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_monitoring_lab import prometheus_url, wait_for_alert

from drctl.estate.lab import LabEstate
from drctl.topology.model import Topology
from drills.engine import Engine, Options
from drills.load import load_drill, resolve

pytestmark = pytest.mark.lab


def test_site_down_alert_fires_during_site_loss_and_clears_after_failback(
    lab: LabEstate, topology: Topology, tmp_path: Path
) -> None:
    prometheus = prometheus_url(topology)
    wait_for_alert(prometheus, "DrctlSiteDown", "inactive", timeout=30)
    fired: list[float] = []

    def coordinator(step: str, instructions: str) -> bool:
        if "Declare" in step:
            fired.append(
                wait_for_alert(
                    prometheus, "DrctlSiteDown", "firing", labels={"site": "brindisi"}, timeout=30
                )
            )
        return True

    path = resolve("site-loss-brindisi")
    drill = load_drill(path, topology)
    journal = Engine(
        topology, lab, path.stem, drill, Options(journal_dir=tmp_path, approve=coordinator)
    ).run()
    assert fired, "the declare step never ran"
    print(f"DrctlSiteDown fired {fired[0]:.1f} s after the declare step began")
    assert journal.result == "passed", journal.reasons
    assert all(r.writes_lost == 0 for r in journal.systems.values())
    wait_for_alert(prometheus, "DrctlSiteDown", "inactive", timeout=30)
