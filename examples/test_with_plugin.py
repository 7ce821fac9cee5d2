"""Testing your own code against the emulator with the plugin's fixtures (installed with the
package; no conftest needed). Works in sync tests, with anyio's or pytest-asyncio's plugin."""

import anyio
import pytest

import jimeng_async as jm
from jimeng_async.testing import Emulator


@pytest.mark.anyio
async def test_my_bot_draws_four_images(jimeng_token: str, jimeng_settings: jm.Settings) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_settings) as s:
        assert len((await s.generate_image("a cat")).images) == 4


def test_from_sync_code(jimeng_emulator: Emulator, jimeng_settings: jm.Settings) -> None:
    token = jimeng_emulator.add_account("us", credits=5)

    async def credits() -> int:
        async with jm.JimengSession(token, settings=jimeng_settings) as s:
            return (await s.credits()).total

    assert anyio.run(credits) == 5
