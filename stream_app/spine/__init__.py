"""The spine: what every pipeline does to an event, pure of Kafka and Faust.

An event walks one way through these rooms: `decode` (bytes to a typed event or a rejection),
`engine` (dedupe, event-time `windows`, watermarks, over a `store`), the family's accumulators
(`family_protocol` says what a family implements), and out through the `collector` (Prometheus,
read from state at scrape time) and `records` (KPI topic records). `pipeline` describes a
pipeline, `registry` lists them; `clock` is the one seam for "now".
"""
