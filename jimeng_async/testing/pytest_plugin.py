"""pytest plugin (entry point `pytest11`): an emulator per test, in its own thread and loop.

Fixtures: `jimeng_emulator` (the started `Emulator`), `jimeng_token` (a cn account with 1000
credits), `jimeng_settings` (client `Settings` pointing at it) and `jimeng_url`. They are plain
synchronous fixtures: the emulator runs on an asyncio loop in a thread of its own, so they work
the same in sync tests, under anyio's plugin on asyncio or trio, and under pytest-asyncio in any
mode, and a test's own loop can never starve or hang the server. The emulator's methods
(`add_account`, `set_credits`, `faults = ...`, `stats`) only touch plain data and are safe to
call from the test's thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from .extra import MISSING_MESSAGE, emulator_available

if TYPE_CHECKING:
    from ..config import Settings
    from .server import Emulator

FIXTURE_TIME_SCALE = 0.01
FIXTURE_SEED = 1234
FIXTURE_CREDITS = 1000


@contextmanager
def emulator_in_thread(**options: Any) -> Iterator[Emulator]:
    """Start an `Emulator(**options)` on an asyncio loop in a new thread; stop it on exit.

    Usable outside pytest too, e.g. from synchronous code that needs a service to talk to.
    """
    from anyio.from_thread import start_blocking_portal

    from .server import Emulator  # imported here: the plugin loads even without the extra

    with start_blocking_portal(backend="asyncio") as portal:
        # Built inside the loop's thread, as everything the server owns belongs to that loop.
        emulator = portal.call(lambda: Emulator(**options))
        with portal.wrap_async_context_manager(emulator):
            yield emulator


@pytest.fixture
def jimeng_emulator() -> Iterator[Emulator]:
    """A started emulator (time_scale 0.01, seed 1234) in its own thread, stopped after the test."""
    if not emulator_available():
        pytest.fail(MISSING_MESSAGE, pytrace=False)
    with emulator_in_thread(time_scale=FIXTURE_TIME_SCALE, seed=FIXTURE_SEED) as emulator:
        yield emulator


@pytest.fixture
def jimeng_token(jimeng_emulator: Emulator) -> str:
    """A cn account with 1000 credits on `jimeng_emulator`."""
    return jimeng_emulator.add_account("cn", credits=FIXTURE_CREDITS)


@pytest.fixture
def jimeng_settings(jimeng_emulator: Emulator) -> Settings:
    """Client settings pointing every region at `jimeng_emulator`, with short time-outs."""
    return jimeng_emulator.settings()


@pytest.fixture
def jimeng_url(jimeng_emulator: Emulator) -> str:
    """The emulator's base URL, e.g. http://127.0.0.1:40123, for raw HTTP clients."""
    return jimeng_emulator.url
