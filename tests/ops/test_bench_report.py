"""The benchmarks page from the JSON the benchmarks write: the state-per-entity table beside
the throughput tables, each figure as written."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report

MACHINE = {"cpu": "Test CPU", "cores": 2, "memory_gib": 24.0, "python": "3.11", "system": "Linux"}


def test_state_sizes_get_their_own_table(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(
        json.dumps(
            {
                "kind": "state_size",
                "date": "2026-12-07T00:30",
                "command": "python -m bench.state_size --sizes 10000,1000000",
                "machine": MACHINE,
                "runs": [
                    {
                        "pipeline": "calls",
                        "entity": "call",
                        "entities": 1_000_000,
                        "load_s": 83.4,
                        "rss_mb": 621.7,
                        "peak_rss_mb": 1798.3,
                        "bytes_per_entity": 528,
                        "restart_s": 11.2,
                    }
                ],
            }
        )
    )
    page = report.markdown(tmp_path)
    assert "## State per entity" in page
    assert "| calls | call | 1,000,000 | 83.4 | 622 | 1,798 | 528 | 11.2 |" in page
    assert "python -m bench.state_size --sizes 10000,1000000" in page
