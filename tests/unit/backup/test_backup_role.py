"""roles/pgbackrest renders the configuration the issue asks for (jinja2, no Ansible run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from backup_role_render import LAB_ROOT, REPO, ROLE, host_vars, render, render_config


def test_lab_has_a_stanza_per_cluster_pointing_at_the_sites_own_members() -> None:
    conf = render_config(site="brindisi")
    assert [s for s in conf.sections() if s != "global"] == ["ecm-db", "crm-db"]
    ecm = conf["ecm-db"]
    assert ecm["pg1-path"] == f"{LAB_ROOT}/brindisi/ecm-db/data"
    assert ecm["pg1-socket-path"] == f"{LAB_ROOT}/brindisi/ecm-db/run"
    assert (ecm["pg1-port"], conf["crm-db"]["pg1-port"]) == ("5432", "5433")


@pytest.mark.parametrize("site", ["brindisi", "valencia"])
def test_lab_repo1_is_at_valencia_whichever_site_writes(site: str) -> None:
    g = render_config(site=site)["global"]
    assert g["repo1-path"] == f"{LAB_ROOT}/valencia/pgbackrest/repo"
    assert "repo1-host" not in g
    # each site its own locks and logs: two sites share one machine in the lab
    assert g["lock-path"] == f"{LAB_ROOT}/{site}/pgbackrest/lock"


def test_retention_compression_and_synchronous_archiving() -> None:
    g = render_config()["global"]
    assert (g["repo1-retention-full"], g["repo1-retention-diff"]) == ("2", "6")
    assert g["repo1-retention-full-type"] == "count"
    assert (g["compress-type"], g["compress-level"]) == ("zst", "3")
    assert g["archive-async"] == "n"
    assert g["start-fast"] == "y"


def test_lab_repo2_is_a_directory_at_the_third_site() -> None:
    g = render_config()["global"]
    assert g["repo2-path"] == f"{LAB_ROOT}/newyork/pgbackrest/offsite"
    assert "repo2-type" not in g  # posix: a directory standing in for the off-site bucket
    assert (g["repo2-retention-full"], g["repo2-retention-diff"]) == ("2", "6")


def test_repo2_in_production_only_when_a_bucket_is_set() -> None:
    assert not any(k.startswith("repo2") for k in render_config(lab=False)["global"])
    g = render_config(lab=False, pgbackrest_s3_bucket="drctl-offsite-backup")["global"]
    assert g["repo2-type"] == "s3"
    assert g["repo2-s3-bucket"] == "drctl-offsite-backup"
    assert g["repo2-s3-endpoint"] == "s3.eu-south-1.amazonaws.com"
    assert g["repo2-storage-verify-tls"] == "y"
    assert (g["repo2-retention-full"], g["repo2-retention-diff"]) == ("2", "6")


def test_lab_repo2_on_an_s3_emulator_stays_on_loopback() -> None:
    conf = render_config(pgbackrest_s3_bucket="offsite", pgbackrest_s3_emulator=True)
    g = conf["global"]
    assert g["repo2-s3-endpoint"] == "127.0.0.1"
    assert g["repo2-s3-uri-style"] == "path"
    ctx = host_vars(pgbackrest_s3_bucket="offsite", pgbackrest_s3_emulator=True)
    text = render("pgbackrest.conf.j2", ctx)
    assert "S3 EMULATOR on 127.0.0.1" in text


def test_encryption_when_a_passphrase_is_given() -> None:
    g = render_config(drctl_secrets={"pgbackrest_repo1": "from-the-vault"})["global"]
    assert g["repo1-cipher-type"] == "aes-256-cbc"
    assert "repo1-cipher-type" not in render_config()["global"]


def test_production_reaches_repo1_on_the_valencia_host_from_brindisi() -> None:
    g = render_config(site="brindisi", lab=False)["global"]
    assert g["repo1-host"] == "127.10.2.1"  # the inventory's valencia address
    assert g["repo1-path"] == "/var/lib/pgbackrest/repo"
    g = render_config(site="valencia", lab=False)["global"]
    assert "repo1-host" not in g
    assert host_vars(lab=False)["pgbackrest_config_file"] == "/etc/pgbackrest/pgbackrest.conf"


def test_patroni_commands_for_a_cluster() -> None:
    v = host_vars(site="valencia")
    config = f"{LAB_ROOT}/valencia/pgbackrest/pgbackrest.conf"
    archive = v["pgbackrest_archive_command"].replace("{stanza}", "crm-db")
    restore = v["pgbackrest_restore_command"].replace("{stanza}", "crm-db")
    assert archive == f"/usr/bin/pgbackrest --config={config} --stanza=crm-db archive-push %p"
    assert restore == (f'/usr/bin/pgbackrest --config={config} --stanza=crm-db archive-get %f "%p"')


def test_role_follows_the_house_style() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert all(k.startswith("pgbackrest_") for k in defaults)
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    for name, spec in specs["main"]["options"].items():
        if name.startswith("pgbackrest_"):
            assert name in defaults, name
            assert spec.get("default") == defaults[name], name
    for task_file in (ROLE / "tasks").glob("*.yml"):
        for task in yaml.safe_load(task_file.read_text()):
            module = next(k for k in task if k.startswith("ansible.builtin."))
            assert module, f"{task_file.name}: {task['name']}"
    assert (
        (ROLE / "templates" / "pgbackrest.conf.j2")
        .read_text()
        .startswith("{{ ansible_managed | comment }}")
    )


def _restore_script(tmp_path: Path, site: str = "brindisi") -> Path:
    script = tmp_path / "drctl-pg-restore"
    script.write_text(render("drctl-pg-restore.j2", host_vars(site=site)))
    return script


def test_restore_script_is_valid_bash_knowing_the_sites_clusters(tmp_path: Path) -> None:
    script = _restore_script(tmp_path)
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "ecm-db) port=5432" in text and "crm-db) port=5433" in text
    assert f"root={LAB_ROOT}/brindisi" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["info", "hr-db"], "unknown cluster 'hr-db' at brindisi"),
        (["format-disk", "ecm-db"], "unknown command 'format-disk'"),
        (["restore", "ecm-db", "latest"], "usage:"),
        (["info"], "usage:"),
    ],
)
def test_restore_script_refuses_what_it_does_not_know(
    tmp_path: Path, args: list[str], message: str
) -> None:
    # refused before touching anything: nothing under the lab root is read or written
    proc = subprocess.run(
        ["bash", str(_restore_script(tmp_path)), *args], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert message in proc.stderr


def test_patroni_archives_through_pgbackrest_in_the_lab() -> None:
    ctx = host_vars()
    command = ctx["pgbackrest_archive_command"].replace("{stanza}", "ecm-db")
    assert command.endswith("--stanza=ecm-db archive-push %p")
    template = (REPO / "roles" / "patroni" / "templates" / "patroni.yml.j2").read_text()
    assert template.count('archive_command: "{{ __archive_command }}"') == 2  # DCS and local
    site = yaml.safe_load((REPO / "roles" / "site.yml").read_text())
    plays = {play["name"]: play for play in site}
    assert plays["PostgreSQL clusters managed by Patroni"]["roles"] == ["pgbackrest", "patroni"]
