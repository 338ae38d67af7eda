"""Records handed to aiokafka's producer without its per-record `send`.

`producer.send` per record costs ~25 µs before any byte moves: a metadata wait, the topic's
partition set built again for the partitioner, serialiser calls, Faust's wrapper around it.
The changelog goes as whole record batches (`send_batches`, off the ingest path); what the
worker publishes in bulk (taps, emits, DLQ and late copies, KPI records) is partitioned here
with the producer's own partitioner, the topic's layout read once per call (`send_keyed`).
A partition's records reach the broker in the order handed over, which the changelog's replay
and a key's downstream order rely on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, TypeVar

from aiokafka.structs import TopicPartition

from stream_app.kafka.internals import accumulator, request_timeout_s, wait_on_metadata
from stream_app.kafka.partitioner import KafkaPartitioner
from stream_app.spine.dead_letter import Headers

Record = tuple[bytes | None, bytes | None, Headers | None]
"""Key, value (None: a tombstone) and headers (None: none), as they go on the wire."""

T = TypeVar("T")

_partition_of = KafkaPartitioner()
"""The producer is configured with the same partitioner (service.faust_app): a key lands on
the partition it lands on when sent one by one."""


async def send_batches(
    producer: Any, topic: str, partition: int, records: Sequence[Record]
) -> list[tuple[asyncio.Future[Any], int, int]]:
    """Queue `records` for one partition as few record batches as they fit in; returns, per
    batch, its acknowledgement and the slice [first, end) of `records` it holds."""
    sent: list[tuple[asyncio.Future[Any], int, int]] = []
    done = 0
    while done < len(records):
        batch = producer.create_batch()
        first = done
        # The first record always fits (a builder takes one of any size).
        while done < len(records):
            key, value, headers = records[done]
            if headers is None:
                appended = batch.append(key=key, value=value, timestamp=None)
            else:
                appended = batch.append(key=key, value=value, timestamp=None, headers=headers)
            if appended is None:
                break
            done += 1
        fut = await producer.send_batch(batch, topic, partition=partition)
        sent.append((fut, first, done))
    return sent


async def partitions(producer: Any, topic: str) -> tuple[list[int], list[int]]:
    """A topic's partitions and those with a leader now, waiting for its metadata if the
    producer has none yet (a topic it has not sent to)."""
    await wait_on_metadata(producer, topic)
    metadata = producer.client.cluster
    return (
        sorted(metadata.partitions_for_topic(topic)),
        sorted(metadata.available_partitions_for_topic(topic)),
    )


async def send_keyed(
    producer: Any, items: Sequence[tuple[str, Record, T]]
) -> list[tuple[asyncio.Future[Any], tuple[str, Record, T]]]:
    """Records for any topics, each partitioned by its key as `producer.send` would and
    appended to its partition's open batch in the order given; returns each record's
    acknowledgement and its item (topic, record and the caller's tag).

    Appended, not queued as batches of their own: `send_batch` waits until the partition's
    previous batch is drained, a broker round trip that held the ingest loop (measured: the
    CRM stage slower with its taps batched that way), while an append waits only when the
    open batch is full, as `producer.send` does. What is skipped is `send`'s per-record
    metadata wait, partition set and serialiser calls."""
    open_batches = accumulator(producer)
    timeout = request_timeout_s(producer)
    layout: dict[str, tuple[list[int], list[int]]] = {}
    sent = []
    for item in items:
        topic, (key, value, headers), _ = item
        if topic not in layout:
            layout[topic] = await partitions(producer, topic)
        every, available = layout[topic]
        tp = TopicPartition(topic, _partition_of(key, every, available))
        fut = await open_batches.add_message(
            tp, key, value, timeout, timestamp_ms=None, headers=headers or []
        )
        sent.append((fut, item))
    return sent
