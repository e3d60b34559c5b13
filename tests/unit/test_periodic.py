"""Background loops survive failures and say an outage once, not every round."""

from __future__ import annotations

import logging

import anyio
import pytest

from presence_gateway.domain.errors import Unavailable
from presence_gateway.service_layer.periodic import every

pytestmark = pytest.mark.anyio


async def test_a_loop_outlives_an_outage_and_reports_it_once_each_way(caplog) -> None:
    rounds = []
    outcome = iter([Unavailable("store down")] * 5 + [None] * 3 + [RuntimeError("bug")] + [None] * 100)

    async def action() -> None:
        rounds.append(1)
        result = next(outcome)
        if result is not None:
            raise result

    caplog.set_level(logging.WARNING)
    async with anyio.create_task_group() as tg:
        await tg.start(lambda task_status: every(0.001, action, failure="sweeping failed", task_status=task_status))
        with anyio.fail_after(5):
            while len(rounds) < 12:
                await anyio.sleep(0.001)
        tg.cancel_scope.cancel()

    messages = [r.getMessage() for r in caplog.records]
    assert sum("store down" in m for m in messages) == 1
    assert sum("recovered after 5 failed rounds" in m for m in messages) == 1
    assert sum(r.exc_info is not None and "bug" in str(r.exc_info[1]) for r in caplog.records) == 1
