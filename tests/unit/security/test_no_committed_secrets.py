"""No secret is committed: database passwords, API tokens and keys are generated at `lab up`
(drctl/lab/secrets.py) or read from the environment, Pulumi secrets or ansible-vault.

Scans the content of every file git tracks for private keys, cloud access keys and literal
values that look generated assigned to a secret-named key or variable.
"""

from __future__ import annotations

import math
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from drctl import REPO_ROOT
from drctl.lab.paths import LabPaths

PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----")
CLOUD_KEYS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        r"aws_?secret_?access_?key\W{1,4}[A-Za-z0-9/+=]{40}\b", re.IGNORECASE
    ),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
}
# key: "value", key = 'value', "key": "value", KEY=value (YAML, Python, JSON, shell, INI)
ASSIGNED = re.compile(
    r"""(?P<key>[\w.-]*(?:password|passwd|secret|token|api_?key|private_?key|credential)"""
    r"""[\w.-]*)["']?\s*[:=]\s*(?P<q>["']?)(?P<value>[^\s"',}{)\]\\]{12,})(?P=q)""",
    re.IGNORECASE,
)
PLACEHOLDER = re.compile(
    r"^(\[secret\]|<.*>|\$\{.*\}|\{\{.*\}\}|%\(.*\)s|.*(changeme|example|placeholder|redacted|"
    r"x{6,}|\*{4,}).*)$",
    re.IGNORECASE,
)
TEST_CONSTANT = re.compile(r"test|fake|dummy|wrong|bad|made-up|not-a", re.IGNORECASE)
# Reviewed exceptions: (path, value) and why it is not a secret.
ALLOWED = {
    # Pulumi's fixed marker that a value is secret (public, in Pulumi's own source).
    ("tests/unit/stacks/test_stack_config.py", "1b47061264138c4ac30d75fd1eb44270"),
}
NEVER_TRACKED = re.compile(
    r"(^|/)(secrets(-vars)?\.json|id_(rsa|dsa|ecdsa|ed25519)|\.vault_pass(word)?(\.txt)?"
    r"|.*\.pem|.*\.key|\.env)$"
)


def tracked() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout
    return [Path(p) for p in out.decode().split("\0") if p]


def entropy(value: str) -> float:
    """Shannon entropy in bits per character: generated tokens are near 5-6, words near 3."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def looks_generated(value: str) -> bool:
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[-_+/=]"))
    return (
        len(value) >= 16
        and classes >= 2
        and entropy(value) >= 3.5
        and not re.fullmatch(r"[\w.]+\(.*", value)  # a call: os.environ.get(...)
        and not re.fullmatch(r"[a-z_][a-z0-9_.]*", value)  # an identifier: settings.token
        # capitals without digits: a variable's name or a format (USER@REALM!TOKENID=SECRET)
        and not re.fullmatch(r"[A-Z_@!=.:`-]+", value)
        and not value.startswith(("/", "./", "~/"))  # a path: DRCTL_SECRETS_FILE=/root/...
    )


def findings(path: str, text: str) -> list[str]:
    out = []
    if PRIVATE_KEY.search(text):
        out.append(f"{path}: a private key")
    for name, pattern in CLOUD_KEYS.items():
        if pattern.search(text):
            out.append(f"{path}: an {name}")
    for m in ASSIGNED.finditer(text):
        value = m["value"]
        if (path, value) in ALLOWED or PLACEHOLDER.match(value) or not looks_generated(value):
            continue
        if path.startswith("tests/") and TEST_CONSTANT.search(value):
            continue
        line = text.count("\n", 0, m.start()) + 1
        out.append(f"{path}:{line}: {m['key']} is assigned a literal that looks generated")
    return out


def test_no_secret_in_any_tracked_file() -> None:
    found = []
    files = tracked()
    assert len(files) > 100
    for rel in files:
        full = REPO_ROOT / rel
        if not full.is_file() or full.stat().st_size > 5_000_000:
            continue
        data = full.read_bytes()
        if b"\0" in data[:8192]:  # binary
            continue
        found += findings(rel.as_posix(), data.decode("utf-8", "replace"))
    assert found == []


def test_no_secret_file_is_tracked() -> None:
    assert [p for p in tracked() if NEVER_TRACKED.search(p.as_posix())] == []


def test_the_lab_secrets_live_outside_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRCTL_STATE_DIR", raising=False)
    secrets = LabPaths.default().secrets
    assert secrets == Path("/var/lib/drctl/lab/secrets.json")
    assert not secrets.resolve().is_relative_to(REPO_ROOT.resolve())


# The scanner itself: each kind of secret is caught, placeholders and test constants are not.
KEY_HEADER = "-----BEGIN " + "OPENSSH PRIVATE KEY-----"
GENERATED = "Zq3" + "x9K_vT2mLw8pRb4nYc7hJd1"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("roles/x/files/id", f"{KEY_HEADER}\nb3BlbnNzaC1rZXktdjE=\n"),
        ("stacks/x.py", "key = 'AKIA" + "ABCDEFGHIJKLMNOP'"),
        ("roles/x/defaults/main.yml", f"drctl_db_password: {GENERATED}\n"),
        ("drctl/x.py", f'ADMIN_TOKEN = "{GENERATED}"\n'),
        ("tests/unit/x.py", f'PROBER_TOKEN = "{GENERATED}"\n'),
        ("inventories/x.json", f'{{"api_token": "{GENERATED}"}}'),
    ],
)
def test_the_scanner_finds(path: str, text: str) -> None:
    assert findings(path, text) != []


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("roles/x/defaults/main.yml", "drctl_db_password: '{{ drctl_secrets.db_app }}'\n"),
        ("drctl/x.py", 'token = os.environ.get("DRCTL_ADMIN_TOKEN", "")\n'),
        ("drctl/x.py", "password = secrets.load(paths.secrets)\n"),
        ("tests/apps/x.py", 'ADMIN_TOKEN = "test-admin-token-0123456789"\n'),
        ("docs/x.md", "api_token: <your-proxmox-token-here>\n"),
        ("x.json", '"secret_access_key": "[secret]"'),
    ],
)
def test_the_scanner_spares(path: str, text: str) -> None:
    assert findings(path, text) == []
