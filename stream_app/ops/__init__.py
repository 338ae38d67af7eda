"""Running the service: readiness (`health`), logs a person can read during an outage
(`logstorm`), `up`'s console and its Prometheus + Alertmanager (`console`, `stack`), `/metrics`
authentication (`web_auth`), interpreter settings for a long-running worker (`runtime`) and
configuration errors as one line (`config_errors`)."""
