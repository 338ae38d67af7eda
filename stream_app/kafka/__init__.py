"""The Kafka and Faust edge: where records come in and go out, and where state meets its
changelog.

`fetch` hands the source topic's records over a fetch at a time, `ingest` applies a batch to
the engine, `publish` and `produce` send what the worker sends besides the changelog,
`changelog_store` is the engine's store over a Faust table, `source` is what the consumer sees
of the source topic. `topics`, `client_config`, `partitioner`, `cluster_watch` and `local_broker`
are the cluster's side. `internals` is the one door to the private members of faust, mode and
aiokafka that the rest relies on.
"""
