"""Fixtures of the plan's tests; the helpers live in plan_estate (a unique module name, since
test directories here are not packages)."""

from plan_estate import estate, rendered

__all__ = ["estate", "rendered"]
