"""The drill engine: scripted failovers that measure RTO and RPO, and the drill catalogue (YAML)."""

from pathlib import Path

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
