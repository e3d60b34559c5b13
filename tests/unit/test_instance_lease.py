"""The lease loop of an instance that is shutting down."""

from __future__ import annotations

import anyio
import pytest

from presence_gateway.domain.instance_lease import keep_lease

pytestmark = pytest.mark.anyio


class LeasingService:
    """Counts renewals, and how often the loop looked at ``draining``."""

    def __init__(self) -> None:
        self.renewals = 0
        self.looks = 0
        self.leaving = False
        self._looked = anyio.Event()

    @property
    def draining(self) -> bool:
        self.looks += 1
        self._looked.set()
        return self.leaving

    async def renew_lease(self, ttl: float) -> bool:
        self.renewals += 1
        return True

    async def next_looks(self, count: int) -> None:
        for _ in range(count):
            self._looked = anyio.Event()
            await self._looked.wait()


async def test_a_leaving_instance_does_not_take_its_released_lease_back() -> None:
    service = LeasingService()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(keep_lease, service, 0.003)  # type: ignore[arg-type]
            await service.next_looks(3)
            assert service.renewals >= 3  # alive: renewed on every round

            service.leaving = True  # its sessions were ended and its lease released
            await service.next_looks(1)
            renewed = service.renewals
            await service.next_looks(5)

            assert service.renewals == renewed
            tg.cancel_scope.cancel()
