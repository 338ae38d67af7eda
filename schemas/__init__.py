"""Event and KPI contracts: pydantic v2 models, and the JSON Schema files generated from them."""
