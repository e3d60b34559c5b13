"""What an instance stops doing once it begins to shut down."""

from __future__ import annotations

import anyio
import pytest

from presence_gateway.service_layer.instance_lease import keep_lease

pytestmark = pytest.mark.anyio


class _LeaseOnlyService:
    """Renews until the instance starts draining (its shutdown), as a real one would."""

    def __init__(self, drain_after: int) -> None:
        self.draining = False
        self.renewals = 0
        self._drain_after = drain_after

    async def renew_lease(self, ttl: float) -> bool:
        self.renewals += 1
        if self.renewals == self._drain_after:
            self.draining = True  # shutdown began: the lease is about to be released
        return True


async def test_a_draining_instance_stops_renewing_the_lease_it_releases() -> None:
    service = _LeaseOnlyService(drain_after=2)

    with anyio.fail_after(5):  # returns by itself once draining; a renewal after release would bring the lease back
        await keep_lease(service, ttl=0.03)

    assert service.renewals == 2
