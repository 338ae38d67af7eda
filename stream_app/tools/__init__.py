"""Commands beside the worker: `replay` (rebuild state and KPI records under a new app id),
`kpi_diff` (compare two KPI topics) and `demo` (demo traffic)."""
