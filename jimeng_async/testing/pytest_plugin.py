"""pytest plugin (entry point `pytest11`): the `jimeng_emulator` and `jimeng_token` fixtures.

Both are async fixtures for anyio's pytest plugin: mark tests `@pytest.mark.anyio`. The
emulator runs with time_scale=0.01 and seed=1234, one per test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .server import Emulator

FIXTURE_TIME_SCALE = 0.01
FIXTURE_SEED = 1234
FIXTURE_CREDITS = 1000


@pytest.fixture
async def jimeng_emulator() -> AsyncIterator[Emulator]:
    """A started emulator (time_scale 0.01, seed 1234), stopped after the test."""
    from .server import Emulator  # imported here: the plugin loads even without the extra

    async with Emulator(time_scale=FIXTURE_TIME_SCALE, seed=FIXTURE_SEED) as emulator:
        yield emulator


@pytest.fixture
async def jimeng_token(jimeng_emulator: Emulator) -> str:
    """A cn account with 1000 credits on `jimeng_emulator`."""
    return jimeng_emulator.add_account("cn", credits=FIXTURE_CREDITS)
