"""`drctl verify --inventory PATH`: bad input is reported (file, line, field; exit 1) before any
connection is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from drctl.cli import build_parser, main

HOST = """\
all:
  vars:
    ansible_user: root
    drctl_service_manager: systemd
  hosts:
    brindisi-db:
      ansible_host: 10.1.0.11
      drctl_site: brindisi
"""


def _verify(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["verify", "--inventory", str(path)])
    out = capsys.readouterr()
    return code, out.err + out.out


def test_verify_is_a_command() -> None:
    args = build_parser().parse_args(["verify", "--inventory", "inventories/lab-ssh"])
    assert args.inventory == Path("inventories/lab-ssh")


def test_inventory_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["verify"])
    assert exited.value.code == 2
    assert "--inventory" in capsys.readouterr().err


def test_missing_inventory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify(tmp_path / "nowhere", capsys)
    assert code == 1 and "nowhere: inventory not found" in out


def test_directory_without_hosts_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify(tmp_path, capsys)
    assert code == 1 and "hosts.yml: no hosts.yml" in out


# (file text, what the message must say: file:line: field: message)
BAD = {
    "no-site": (
        HOST.replace("      drctl_site: brindisi\n", ""),
        ":6: all.hosts.brindisi-db.drctl_site: required",
    ),
    "bad-manager": (
        HOST.replace("systemd", "upstart"),
        ":4: all.vars.drctl_service_manager: Input should be 'supervisor' or 'systemd'",
    ),
    "bad-port": (
        HOST + "      ansible_port: 70000\n",
        ":9: all.hosts.brindisi-db.ansible_port: Input should be less than 65536",
    ),
    "unknown-member": (
        HOST + "  children:\n    patroni:\n      hosts:\n        valencia-db:\n",
        ":12: all.children.patroni.hosts.valencia-db: unknown host 'valencia-db'",
    ),
    "lab-without-roots": (
        HOST.replace("systemd", "supervisor"),
        ":6: all.hosts.brindisi-db.drctl_lab_root: a supervisor (lab) host needs",
    ),
    "no-hosts": ("all:\n  hosts: {}\n", ":2: all.hosts"),
    "malformed": ("all:\n  hosts: [\n", "malformed YAML"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_inventory_names_file_line_and_field(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = BAD[case]
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    code, out = _verify(path, capsys)
    assert code == 1
    assert f"{path}{expected}" in out if expected.startswith(":") else expected in out
    assert "Traceback" not in out


def test_unknown_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(HOST)
    code = main(["verify", "--inventory", str(path), "--site", "valenica"])
    assert code == 1 and "no host at site(s) valenica" in capsys.readouterr().err
