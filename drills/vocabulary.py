"""The allow-listed names a drill or runbook file may use, with the arguments each takes.

Files name actions from this list; nothing in YAML can import or run arbitrary code
(a `command` action runs a shell command on a named site through the estate driver).
"""

from __future__ import annotations

# name -> (required args, optional args)
ACTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "site.power_off": (frozenset({"site"}), frozenset()),
    "site.power_on": (frozenset({"site"}), frozenset()),
    "site.partition": (frozenset({"site"}), frozenset()),
    "site.heal": (frozenset({"site"}), frozenset()),
    "site.confirm_fenced": (frozenset({"site"}), frozenset()),
    "wan.add_latency": (frozenset({"site", "ms"}), frozenset()),
    "wan.remove_latency": (frozenset({"site"}), frozenset()),
    "service.kill": (frozenset({"site", "service"}), frozenset()),
    "service.start": (frozenset({"site", "service"}), frozenset()),
    "db.kill_leader": (frozenset({"system"}), frozenset()),
    "db.restart_member": (frozenset({"system", "site"}), frozenset()),
    "db.clear_stale_leader": (frozenset({"system", "site"}), frozenset()),
    "db.wait_leader": (frozenset({"system"}), frozenset({"site", "timeout_seconds"})),
    "db.wait_replication": (frozenset({"system"}), frozenset({"timeout_seconds"})),
    "db.switchover": (frozenset({"system", "site"}), frozenset({"timeout_seconds"})),
    "db.corrupt": (frozenset({"system", "table", "column"}), frozenset()),
    "db.destroy": (frozenset({"system"}), frozenset()),
    "db.restore": (frozenset({"system"}), frozenset({"target", "repo", "timeout_seconds"})),
    "db.start_members": (frozenset({"system"}), frozenset({"timeout_seconds"})),
    "hub.isolate": (frozenset({"site"}), frozenset()),
    "hub.reconnect": (frozenset({"site"}), frozenset()),
    "command": (frozenset({"site", "run"}), frozenset()),
    "pause": (frozenset({"seconds"}), frozenset()),
}

# Checks are read-only: steady-state hypotheses and verification.
CHECKS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "estate.healthy": (frozenset(), frozenset()),
    "replication.healthy": (frozenset({"system"}), frozenset({"max_lag_bytes"})),
    "db.leader_at": (frozenset({"system", "site"}), frozenset()),
    "app.ready": (frozenset({"system"}), frozenset()),
    "backup.recent": (frozenset({"system", "max_age_seconds"}), frozenset()),
    "db.table_intact": (frozenset({"system", "table"}), frozenset()),
    "cache.serves": (frozenset({"site"}), frozenset()),
    "drill.no_other_running": (frozenset(), frozenset()),
}
