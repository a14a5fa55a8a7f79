"""monitoring.haproxy's reading of the stats CSV, beyond the real captures test_collector uses."""

from __future__ import annotations

import pytest
from monitoring_fakes import FIXTURES

from monitoring.haproxy import Server, parse_stats_csv


def test_a_real_capture_gives_its_server_rows_only() -> None:
    servers = parse_stats_csv((FIXTURES / "haproxy-stats-primary.csv").read_text())
    assert servers, "the capture has servers"
    assert all(s.name not in ("FRONTEND", "BACKEND") for s in servers)
    assert {s.backend for s in servers} >= {"ecm", "crm"}


def test_columns_haproxy_did_not_send_read_as_empty() -> None:
    text = "# pxname,svname,status,\necm,FRONTEND,OPEN,\necm,brindisi,UP,\necm,valencia\n,x,UP,\n"
    assert parse_stats_csv(text) == [
        Server("ecm", "brindisi", "UP", False, ""),
        Server("ecm", "valencia", "", False, ""),
    ]


def test_cells_past_the_header_are_no_columns() -> None:
    text = "# pxname,svname,status\necm,brindisi,UP,1,127.10.1.1:8080\n"
    assert parse_stats_csv(text) == [Server("ecm", "brindisi", "UP", False, "")]


def test_quoted_cells_are_read_as_csv() -> None:
    text = '# pxname,svname,status,bck,addr\ncrm,"val,encia"," DOWN ",1,127.10.2.1:8443\n'
    assert parse_stats_csv(text) == [Server("crm", "val,encia", "DOWN", True, "127.10.2.1:8443")]


@pytest.mark.parametrize("text", ["", "pxname,svname\n", "# status,addr\nx,y\n"])
def test_what_is_not_stats_csv_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HAProxy stats CSV"):
        parse_stats_csv(text)
