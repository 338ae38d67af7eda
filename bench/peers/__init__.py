"""Peer stream processors for `bench.throughput --peers`, run from their own virtualenv
(`.venv-peers`, built by bench/peers/venv.py from requirements.lock): Quix Streams and Bytewax
pin pydantic and confluent-kafka versions that would change this project's own environment."""
