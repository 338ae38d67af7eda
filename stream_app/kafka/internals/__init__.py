"""The one door to other libraries' private members: faust-streaming, mode-streaming and aiokafka.

Everything the service reaches past those libraries' public API goes through here: the small
reaches below, and Faust's consumer drain loop, forked in `faust_fetch`. Each member is listed in
`MEMBERS` with what it is and why the public API does not do; tests/spine/test_internals.py
checks every one on the installed versions (it exists, has the signature we call, and the
library still updates it on the path we rely on), so an upgrade fails there, loudly, instead of
miscounting. pyproject pins the three libraries exactly; ruff's SLF rule refuses a private
member anywhere else in the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from signal import Signals
from typing import Any, Literal

import faust


@dataclass(frozen=True, slots=True)
class Member:
    """A private member of another library that the service relies on."""

    owner: str
    """Dotted path of the class (or module) that defines it."""
    name: str
    kind: Literal["method", "coroutine", "attribute"]
    what: str
    why: str
    signature: str | None = None
    """The signature we call or override, as `inspect.signature` prints it (methods only)."""


MEMBERS: tuple[Member, ...] = (
    # ---- Faust's consumer: the drain loop forked in faust_fetch.BatchConsumer -------------
    Member(
        "faust.transport.consumer.Consumer",
        "_drain_messages",
        "coroutine",
        "Faust's fetch loop; the Fetcher service's only task awaits it.",
        "Overridden: agents, streams and getmany deliver one Message and Event per record "
        "(~200 µs each, a ~4k records/s ceiling); Faust has no batch-consumer hook.",
        "(self, fetcher: mode.types.services.ServiceT) -> None",
    ),
    Member(
        "faust.transport.consumer.Consumer",
        "_wait_next_records",
        "coroutine",
        "One fetch: (records by partition, active partitions), None while flow is stopped.",
        "The fork calls it as Faust's loop does; getmany() would turn records into Messages.",
        "(self, timeout: float) -> Tuple[Optional[Mapping[faust.types.tuples.TP, "
        "List[Any]]], Optional[Set[faust.types.tuples.TP]]]",
    ),
    Member(
        "faust.transport.consumer.Consumer",
        "_read_offset",
        "attribute",
        "TP -> the offset last read (defaultdict, None before the first); seeks write it.",
        "Records below it predate a seek and must be skipped, as Faust's loop skips them.",
    ),
    Member(
        "faust.transport.consumer.Consumer",
        "_committed_offset",
        "attribute",
        "TP -> the committed offset, written by perform_seek and commits.",
        "A batch acknowledges only offsets at or past it; no public reader exists.",
    ),
    Member(
        "faust.transport.consumer.Consumer",
        "_add_gap",
        "coroutine",
        "Notes offsets never delivered (compaction, transaction markers) so commits pass them.",
        "Faust's loop calls it for skipped offsets; without it the commit stops at a gap.",
        "(self, tp: faust.types.tuples.TP, offset_from: int, offset_to: int) -> None",
    ),
    Member(
        "faust.transport.consumer.Consumer",
        "_acked",
        "attribute",
        "TP -> offsets acknowledged since the last commit (what ack() appends to).",
        "A batch is acknowledged at once; ack() wants one Message per record.",
    ),
    Member(
        "faust.transport.consumer.Consumer",
        "_acked_index",
        "attribute",
        "TP -> set of the acknowledged offsets (what ack() adds to).",
        "As _acked: the commit's offset arithmetic reads both.",
    ),
    Member(
        "faust.transport.consumer.Consumer",
        "_n_acked",
        "attribute",
        "How many offsets were acknowledged since the last commit (ack() counts it).",
        "Drives the commit_every commit, as the stream's acknowledgements did.",
    ),
    Member(
        "faust.transport.consumer.Consumer",
        "_commit_every",
        "attribute",
        "broker_commit_every as the consumer holds it (None: commit on the timer only).",
        "Read beside _n_acked, as Faust's loop reads it.",
    ),
    Member(
        "faust.transport.consumer.Consumer",
        "_buffered_partitions",
        "attribute",
        "Partitions whose stream buffers are full; the loop still drains them.",
        "Faust's loop filters the fetch with it; the fork keeps the same rule.",
    ),
    Member(
        "faust.transport.drivers.aiokafka.Consumer",
        "_to_message",
        "method",
        "An aiokafka ConsumerRecord as a Faust ConsumerMessage.",
        "Other topics (changelogs in recovery) still go to the conductor one Message each.",
        "(self, tp: faust.types.tuples.TP, record: Any) -> faust.types.tuples.ConsumerMessage",
    ),
    Member(
        "mode.services.Service",
        "_stopped",
        "attribute",
        "The Event set when a service stops (the consumer's and the Fetcher's).",
        "The fork binds is_set once, as Faust's loop does; should_stop also reads _crashed.",
    ),
    Member(
        "faust.app.base.App",
        "_new_transport",
        "method",
        "Builds the app's transport (and so its consumer class) on first use.",
        "Overridden by BatchApp to put BatchConsumer in; the transport URL scheme would need "
        "a registered entry point for a class inside this package.",
        "(self) -> faust.types.transports.TransportT",
    ),
    # ---- the producers: records appended to aiokafka's accumulator ------------------------
    Member(
        "faust.transport.drivers.aiokafka.Producer",
        "_ensure_producer",
        "method",
        "The aiokafka producer under Faust's (NotReady before on_start).",
        "The changelog and side records are appended to its accumulator in batches; Faust's "
        "send() is one record and one future at a time.",
        "(self) -> aiokafka.producer.producer.AIOKafkaProducer",
    ),
    Member(
        "aiokafka.producer.producer.AIOKafkaProducer",
        "_message_accumulator",
        "attribute",
        "The producer's MessageAccumulator: per-partition open batches.",
        "add_message appends to the open batch; send() adds a metadata wait, partitioning and "
        "serialisers per record (~25 µs), send_batch waits for the partition's previous batch.",
    ),
    Member(
        "aiokafka.producer.producer.AIOKafkaProducer",
        "_request_timeout_ms",
        "attribute",
        "request_timeout_ms as the producer holds it (int, ms).",
        "The timeout add_message takes, as send() passes it.",
    ),
    Member(
        "aiokafka.client.AIOKafkaClient",
        "_wait_on_metadata",
        "coroutine",
        "Waits until the cluster metadata knows a topic's partitions.",
        "send() waits the same way before partitioning; records here are partitioned by us.",
        "(self, topic)",
    ),
    Member(
        "aiokafka.consumer.consumer.AIOKafkaConsumer",
        "_client",
        "attribute",
        "The consumer's AIOKafkaClient.",
        "diff-kpis refreshes metadata for a topic it did not subscribe to "
        "(client.force_metadata_update); the consumer has no public refresh.",
    ),
    # ---- Faust's RocksDB store and mode's worker ------------------------------------------
    Member(
        "faust.stores.rocksdb.Store",
        "_db_for_partition",
        "method",
        "The RocksDB database (rocksdict Rdict) of one table partition.",
        "The local copy is written in batches with the changelog offset; the Store API is one "
        "key at a time and would re-encode every value.",
        "(self, partition: int) -> Rdict",
    ),
    Member(
        "mode.worker.Worker",
        "_schedule_shutdown",
        "method",
        "What SIGINT and SIGTERM call to stop the worker.",
        "Overridden to bound the shutdown; mode has no public signal hook.",
        "(self, signal: signal.Signals) -> None",
    ),
)


# ---- the small reaches ---------------------------------------------------------------------


def aiokafka_producer(faust_producer: Any) -> Any:
    """The aiokafka producer under Faust's (`Producer._ensure_producer`)."""
    return faust_producer._ensure_producer()


def accumulator(producer: Any) -> Any:
    """The producer's open batches (`AIOKafkaProducer._message_accumulator`)."""
    return producer._message_accumulator


def request_timeout_s(producer: Any) -> float:
    """The timeout `send()` gives the accumulator (`AIOKafkaProducer._request_timeout_ms`)."""
    return float(producer._request_timeout_ms) / 1000


async def wait_on_metadata(producer: Any, topic: str) -> None:
    """Until the producer's metadata knows `topic` (`AIOKafkaClient._wait_on_metadata`)."""
    await producer.client._wait_on_metadata(topic)


def consumer_client(consumer: Any) -> Any:
    """An AIOKafkaConsumer's client (`AIOKafkaConsumer._client`)."""
    return consumer._client


def rocksdb_for_partition(table_data: Any, partition: int) -> Any:
    """The RocksDB database of one partition of a Faust table (`Store._db_for_partition`)."""
    return table_data._db_for_partition(partition)


class SignalledWorker(faust.Worker):
    """A Faust worker told of SIGINT/SIGTERM before mode starts its shutdown."""

    def on_shutdown_signal(self, signal: Signals) -> None:
        """Called first on SIGINT or SIGTERM; the shutdown then goes on as mode's."""

    def _schedule_shutdown(self, signal: Signals) -> None:  # mode Worker._schedule_shutdown
        self.on_shutdown_signal(signal)
        super()._schedule_shutdown(signal)
