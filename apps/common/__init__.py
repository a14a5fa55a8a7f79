"""Pieces both applications share: settings, database access, auth, health and probes."""
