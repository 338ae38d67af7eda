"""KPI families: each is a schema, a merge rule and the facts it counts, run on the shared spine."""
