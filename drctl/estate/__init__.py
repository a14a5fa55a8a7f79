"""Estates drills act on, through one interface: the lab and production (DESIGN §4)."""
