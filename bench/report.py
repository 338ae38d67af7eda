"""The docs' benchmarks page, made from the JSON `bench.throughput --json` writes
(docs/benchmarks/<pipeline>.json): one current table per pipeline with its date, machine and
command. Older figures live in git's history of those files, not in prose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"
ORDER = ("calls", "email", "crm", "engagement")
COLUMNS = (
    ("baseline_eps", "aiokafka + decode", "{:,.0f}"),
    ("bare_faust_eps", "bare Faust", "{:,.0f}"),
    ("quix_eps", "Quix Streams", "{:,.0f}"),
    ("bytewax_eps", "Bytewax", "{:,.0f}"),
    ("worker_eps", "worker", "{:,.0f}"),
    ("ratio_quix", "worker / Quix", "{:.2f}"),
    ("latency_p50_ms", "one event, p50 ms", "{:,.0f}"),
    ("load_p99_ms", "p99 ms at the offered load", "{:,.0f}"),
    ("rss_mb", "peak RSS MB", "{:,.0f}"),
    ("processes_eps", "N processes", "{:,.0f}"),
    ("scaling", "N processes / 1", "{:.2f}"),
)
STATE_COLUMNS = (
    ("entities", "entities", "{:,.0f}"),
    ("load_s", "start + load s", "{:,.1f}"),
    ("rss_mb", "RSS MB", "{:,.0f}"),
    ("peak_rss_mb", "peak RSS MB", "{:,.0f}"),
    ("bytes_per_entity", "RSS bytes per entity", "{:,.0f}"),
    ("restart_s", "restart s", "{:,.1f}"),
)


def _figure(value: Any, fmt: str) -> str:
    if not isinstance(value, int | float) or value != value:  # absent or NaN
        return "n/a"
    return fmt.format(value)


def _measured(result: dict[str, Any]) -> list[str]:
    """When, on what and with which command a result was measured."""
    machine = result["machine"]
    return [
        f"Measured {result['date']} on {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB, Python {machine['python']} ({machine['system']}), with",
        "",
        "```bash",
        result["command"],
        "```",
        "",
    ]


def table(result: dict[str, Any]) -> list[str]:
    shown = [c for c in COLUMNS if any(c[0] in run for run in result["runs"])]
    lines = [
        f"## {result['pipeline']}",
        "",
        *_measured(result),
        "| run | records | " + " | ".join(title for _, title, _ in shown) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in shown) + " |",
    ]
    for run in result["runs"]:
        cells = [_figure(run.get(key), fmt) for key, _, fmt in shown]
        lines.append(f"| {run['run'] + 1} | {run['records']:,} | " + " | ".join(cells) + " |")
    medians = result["medians"]
    cells = [f"**{_figure(medians.get(key), fmt)}**" for key, _, fmt in shown]
    lines.append("| median | | " + " | ".join(cells) + " |")
    return lines


def state_table(result: dict[str, Any]) -> list[str]:
    """`bench.state_size`: memory and restart time against entities held, per pipeline."""
    lines = [
        "## State per entity",
        "",
        "A worker serves its entities from memory (RocksDB is the copy a restart reads), so its",
        "resident set grows with the entities it holds: calls within the dedupe horizon, e-mail",
        "messages within 30 days, opportunities and leads within 180 days. Restart: stop, start,",
        "until /readyz answers with every entity loaded.",
        "",
        *_measured(result),
        "| pipeline | entity | " + " | ".join(title for _, title, _ in STATE_COLUMNS) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in STATE_COLUMNS) + " |",
    ]
    for run in result["runs"]:
        cells = [_figure(run.get(key), fmt) for key, _, fmt in STATE_COLUMNS]
        lines.append(f"| {run['pipeline']} | {run['entity']} | " + " | ".join(cells) + " |")
    return lines


def markdown(results_dir: Path = RESULTS) -> str:
    found = [json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))]
    states = [r for r in found if r.get("kind") == "state_size"]
    results = [r for r in found if r.get("kind") != "state_size"]
    results.sort(key=lambda r: ORDER.index(r["pipeline"]) if r["pipeline"] in ORDER else 99)
    lines = [
        "# Benchmarks",
        "",
        "The worker beside a raw aiokafka consumer, a bare Faust agent and its Python peers (Quix",
        "Streams, Bytewax) on the same records, in the same invocation. Written by",
        "`bench.throughput --json docs/benchmarks/<pipeline>.json`; what each column means and how",
        "to run it: [running the benchmarks](development/benchmarks.md). Machines here have noisy",
        "shared cores: compare the ratios within one table, not rates across tables or days.",
    ]
    if not results:
        lines += ["", "No results are recorded yet."]
    for result in results:
        lines += ["", *table(result)]
    for state in states:
        lines += ["", *state_table(state)]
    return "\n".join(lines) + "\n"
