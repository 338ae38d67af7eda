"""The metrics catalog: every series the service exposes, declared once per package.

Each family's `catalog.py` lists its own series; `PIPELINE` below lists what every pipeline
exposes. The metrics reference in the docs is generated from these lists, a live scrape of every
pipeline must show exactly its catalog (tests/ops/test_up.py), and every series the Grafana
boards, the alert and recording rules and the web board query must be in one
(tests/ops/test_metrics_catalog.py): a series renamed in one place only fails the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Series:
    """One metric family as a scrape shows it."""

    name: str
    """As exposed and queried: counters end in `_total`."""
    kind: Literal["counter", "gauge", "histogram"]
    help: str
    labels: tuple[str, ...]


def base(series: Series) -> str:
    """The name prometheus_client's Counter is given (it adds `_total` itself)."""
    return series.name.removesuffix("_total")


PIPELINE: tuple[Series, ...] = (
    Series("isales_events_applied_total", "counter", "Events merged into state.", ("source",)),
    Series(
        "isales_duplicate_events_total",
        "counter",
        "Events ignored as already applied.",
        ("source",),
    ),
    Series(
        "isales_late_events_total",
        "counter",
        "Events that changed a window already closed; sent to the late topic.",
        ("source",),
    ),
    Series(
        "isales_late_history_events_total",
        "counter",
        "Of the late events, those a day or more behind their partition's newest event: "
        "history arriving (a backfill, seeded or replayed past), not live events that "
        "missed their window's grace.",
        ("source",),
    ),
    Series(
        "isales_expired_events_total",
        "counter",
        "Events refused as past the dedupe horizon (entity time too far behind the watermark): "
        "counted nowhere, sent to the late topic.",
        ("source",),
    ),
    Series(
        "isales_erased_events_total",
        "counter",
        "Events of leads erased on request (stream-app erase), counted nowhere.",
        ("source",),
    ),
    Series(
        "isales_erased_leads",
        "gauge",
        "Leads on the erasure list this worker applies (stream-app erase).",
        ("source",),
    ),
    Series(
        "isales_late_window_updates_total",
        "counter",
        "Window updates refused because the window had closed, by window size.",
        ("source", "window"),
    ),
    Series(
        "isales_dead_letter_events_total",
        "counter",
        "Records sent to the dead-letter topic, by reason class.",
        ("source", "reason"),
    ),
    Series(
        "isales_consumer_lag_messages",
        "gauge",
        "Records on the partition not yet processed (end offset - next offset).",
        ("topic", "partition"),
    ),
    Series(
        "isales_next_offset",
        "gauge",
        "The next source offset the partition's state has not applied (replay progress).",
        ("topic", "partition"),
    ),
    Series(
        "isales_watermark_timestamp_seconds",
        "gauge",
        "Newest event time processed on the partition (Unix seconds).",
        ("topic", "partition"),
    ),
    Series(
        "isales_event_time_delay_seconds",
        "gauge",
        "Wall clock minus the partition's watermark: how far processing trails events.",
        ("topic", "partition"),
    ),
    Series(
        "isales_vendor_ignored_events_total",
        "counter",
        "Vendor events that carry nothing for the KPIs (or of a type the vendor added since): "
        "counted here, never dead-lettered. At most 100 types per vendor, by name; the rest as "
        "`other`.",
        ("vendor", "type"),
    ),
    Series(
        "isales_vendor_unmapped_events_total",
        "counter",
        "Vendor events whose person the people directory (ISALES_PEOPLE_FILE) does not list: "
        "counted under the rep `unmapped-<vendor>`, never the vendor's own id.",
        ("vendor",),
    ),
    Series(
        "isales_offset_rewinds_total",
        "counter",
        "Seeks back to the state's next offset after records were skipped upstream.",
        ("source",),
    ),
    Series(
        "isales_offset_holes_total",
        "counter",
        "Offset gaps accepted as real holes after repeated rewinds.",
        ("source",),
    ),
    Series(
        "isales_rebalances_total", "counter", "Partition assignments received by this worker.", ()
    ),
    Series(
        "isales_label_overflow_total",
        "counter",
        "Distinct label values folded into 'other' because the label's cap was reached.",
        ("label",),
    ),
)
"""What every pipeline's worker exposes, beside its family's series."""
