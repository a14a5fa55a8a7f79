"""The lab's network: iptables rules that give each site its own source address and cut
partitioned sites off.

On loopback every connection would leave from the destination's own address, so each site's
outgoing traffic is SNATed to the site's address by cgroup. A partition then drops packets
by the connection's conntrack original destination and reply destination (the SNATed source):
both ends must be site addresses, so the observer (drctl itself, outside every site) still
sees the whole estate, as an out-of-band management network would (DESIGN §9).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from drctl.errors import EstateError
from drctl.lab.paths import LabPaths
from drctl.topology.model import Topology

SNAT_CHAIN = "DRCTL-SNAT"
FENCE_CHAIN = "DRCTL-FENCE"
WAN_CHAIN = "DRCTL-WAN"  # REDIRECTs to WAN latency proxies (drctl.lab.wan), only while in use
BUBBLE_CHAIN = "DRCTL-BUBBLE"  # cuts an isolated drill's bubble off (drills.isolated), while in use
_JUMPS = (("nat", "POSTROUTING", SNAT_CHAIN), ("filter", "OUTPUT", FENCE_CHAIN))


def _ipt(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise EstateError(f"iptables {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def _rules(table: str, chain: str) -> list[str]:
    proc = _ipt("-t", table, "-S", chain, check=False)
    return proc.stdout.splitlines()[1:] if proc.returncode == 0 else []


def install(topo: Topology, paths: LabPaths) -> bool:
    """Create the chains and per-site SNAT rules; returns True when something changed."""
    wanted = [
        f"-A {SNAT_CHAIN} -m cgroup --path {paths.cgroup_match_path(s.name)} "
        f"-j SNAT --to-source {s.lab_address}"
        for s in topo.sites
    ]
    changed = False
    for table, parent, chain in _JUMPS:
        if _ipt("-t", table, "-S", chain, check=False).returncode != 0:
            _ipt("-t", table, "-N", chain)
            changed = True
        if _ipt("-t", table, "-C", parent, "-j", chain, check=False).returncode != 0:
            _ipt("-t", table, "-I", parent, "1", "-j", chain)
            changed = True
    if [_canon(r) for r in _rules("nat", SNAT_CHAIN)] != [_canon(r) for r in wanted]:
        _ipt("-t", "nat", "-F", SNAT_CHAIN)
        for site in topo.sites:
            paths.site_cgroup(site.name).mkdir(parents=True, exist_ok=True)
            _ipt(
                "-t",
                "nat",
                "-A",
                SNAT_CHAIN,
                "-m",
                "cgroup",
                "--path",
                paths.cgroup_match_path(site.name),
                "-j",
                "SNAT",
                "--to-source",
                str(site.lab_address),
            )
        changed = True
    return changed


def _canon(rule: str) -> str:
    # iptables -S prints `--path "drctl/x"` and `127.10.1.1/32`; compare without either
    return " ".join(rule.replace("/32", "").replace('"', "").split())


def remove() -> None:
    for table, parent, chain in (
        *_JUMPS,
        ("nat", "OUTPUT", WAN_CHAIN),
        ("filter", "OUTPUT", BUBBLE_CHAIN),
    ):
        while _ipt("-t", table, "-D", parent, "-j", chain, check=False).returncode == 0:
            pass
        _ipt("-t", table, "-F", chain, check=False)
        _ipt("-t", table, "-X", chain, check=False)


def leftovers() -> list[str]:
    """Every drctl rule or chain still present (for `lab down` and its test), DRCTL-WAN's and
    DRCTL-BUBBLE's too."""
    out = []
    for table in ("nat", "filter"):
        out += [r for r in _ipt("-t", table, "-S", check=False).stdout.splitlines() if "DRCTL" in r]
    return out


def _tag(site: str) -> str:
    return f"drctl-partition:{site}"


def partition(topo: Topology, site: str) -> None:
    """Cut `site` off from every other site, both ways, including established connections."""
    if site in partitioned():
        return
    addr = str(topo.site(site).lab_address)
    for other in topo.sites:
        if other.name == site:
            continue
        peer = str(other.lab_address)
        for orig_dst, reply_dst in ((addr, peer), (peer, addr)):
            _ipt(
                "-A",
                FENCE_CHAIN,
                "-m",
                "conntrack",
                "--ctorigdst",
                orig_dst,
                "--ctrepldst",
                reply_dst,
                "-m",
                "comment",
                "--comment",
                _tag(site),
                "-j",
                "DROP",
            )


def heal(site: str) -> None:
    for rule in _rules("filter", FENCE_CHAIN):
        if f'"{_tag(site)}"' in rule or f" {_tag(site)} " in f"{rule} ":
            _ipt(*_delete(rule))


def _delete(rule: str) -> Sequence[str]:
    import shlex

    parts = shlex.split(rule)
    return ["-D", *parts[1:]]


def partitioned() -> set[str]:
    out = set()
    for rule in _rules("filter", FENCE_CHAIN):
        if "drctl-partition:" in rule:
            out.add(rule.split("drctl-partition:")[1].split()[0].strip('"'))
    return out
