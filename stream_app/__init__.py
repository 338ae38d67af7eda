"""Real-time inside-sales KPIs: Kafka events in, Prometheus metrics and KPI topics out."""

__version__ = "0.1.0"
