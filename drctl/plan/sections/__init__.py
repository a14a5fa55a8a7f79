"""One function per section of the plan (shared/PLAN.md), each building a `Section` from a
`PlanContext`; `drctl.plan.render.BUILDERS` puts them in order."""
