"""One item that fails in a claimed sweep batch stops no one: the store already handed
the batch over, so every other user's change is still delivered."""

from __future__ import annotations

import pytest

from presence_gateway.domain.presence import PresenceChanged
from tests.fakes import RecordingBroadcaster
from tests.unit.conftest import META, build_world

pytestmark = pytest.mark.anyio


class BroadcasterFailingFor(RecordingBroadcaster):
    """Refuses the changes of one user, as an encoder refuses an id it cannot write."""

    def __init__(self, bad_user: str) -> None:
        super().__init__()
        self.bad_user = bad_user

    async def publish(self, change: PresenceChanged) -> None:
        if change.user_id == self.bad_user:
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        await super().publish(change)


@pytest.mark.parametrize("ending", ["sweep", "end_instance"])
async def test_a_failing_item_leaves_the_rest_of_the_batch_delivered(ending: str) -> None:
    world = build_world()
    users = [f"u{n}" for n in range(20)]
    for n, user in enumerate(users):
        await world.service.connect(user, f"s{n}", META)
    broadcaster = BroadcasterFailingFor("u3")
    world.service._broadcaster = broadcaster

    if ending == "sweep":
        world.clock.advance(91)
        await world.service.sweep()
    else:
        await world.service.end_instance()

    offline = {c.user_id for c in broadcaster.changes if c.status == "OFFLINE"}
    assert offline == set(users) - {"u3"}
