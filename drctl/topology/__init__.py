"""The estate's topology: the single source of truth for sites, systems and objectives."""

from drctl.topology.load import DEFAULT_PATH, load_topology
from drctl.topology.model import Site, SiteRole, SiteService, System, Topology

__all__ = ["DEFAULT_PATH", "Site", "SiteRole", "SiteService", "System", "Topology", "load_topology"]
