"""Production drivers (DESIGN §4): the remote-control libraries a production estate acts through.

proxmox (VM power, snapshots), aws (off-site copies in S3, Route 53 failover records), ssh
(pyinfra steps) and checks (testinfra verification). Each module imports its library lazily
enough that the lab never needs it.
"""
