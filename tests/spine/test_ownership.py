"""A batch is applied only to partitions the worker owns at that moment."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from stream_app.families.calls.demo import ScenarioConfig, scenario
from stream_app.service import NotOwned, Service
from stream_app.settings import Settings
from stream_app.spine.store import new_partition_state


def service_at_offset(next_offset: int, *, ready: bool) -> Service:
    svc = Service(Settings(store="memory"))
    svc.table_store.put("p/0", {**new_partition_state(0), "o": next_offset - 1}, 0)
    svc.ready = lambda: ready  # type: ignore[method-assign]
    svc.source.assigned = lambda: {0, 1, 2, 3}  # type: ignore[method-assign]
    return svc


def record(offset: int) -> Any:
    event = next(r for r in scenario(ScenarioConfig(seed=3, calls=2)) if r.kind == "event")
    return SimpleNamespace(
        topic=Settings().calls_topic, partition=0, offset=offset, key=event.key, value=event.value
    )


async def handle(svc: Service, offset: int) -> None:
    handoff = await svc.handle([record(offset)])
    await handoff.settled


def test_a_batch_taken_before_a_rebalance_is_not_applied_while_it_runs() -> None:
    # The worker's assignment is being handed over (Faust is rebalancing): the batch that was
    # waiting for the lock must leave the state alone, to be read again once owned.
    svc = service_at_offset(5, ready=False)
    with pytest.raises(NotOwned):
        asyncio.run(handle(svc, 5))
    assert svc.engine.next_offset(0) == 5


def test_the_same_batch_is_applied_once_the_partition_is_owned() -> None:
    svc = service_at_offset(5, ready=True)
    asyncio.run(handle(svc, 5))
    assert svc.engine.next_offset(0) == 6
