"""Realistic data for the lab: what `apps.seed.seed` loads into ECM and CRM."""
