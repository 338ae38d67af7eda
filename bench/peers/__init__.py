"""Peer stream processors for `bench.throughput --peers`, run from their own virtualenv
(`.venv-peers`, see bench/peers/requirements.txt): Quix Streams and Bytewax pin pydantic and
confluent-kafka versions that would change this project's own environment."""
