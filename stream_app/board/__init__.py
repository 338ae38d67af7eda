"""The live board without Grafana (`stream-app board`; `up` starts it): one page served by the
project, no build step and no CDN, reading the KPIs from Prometheus."""
