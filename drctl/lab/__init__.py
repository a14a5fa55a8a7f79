"""The lab: the whole estate on one machine, one loopback address and one cgroup per site."""
