"""Shared fixtures: the anyio backend (asyncio, the library's target) and a raw HTTP client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest

from jimeng_async.testing import Emulator
from jimeng_async.testing.config import MIN_APP_VERSION_ENV

#: Every emulator of this suite refuses an app version older than today's web app (ret 3018),
#: so the client can never fall behind the service unnoticed. Tests of older clients (the
#: conformance corpus) turn it off explicitly.
CURRENT_APP_VERSION = "8.4.0"
os.environ[MIN_APP_VERSION_ENV] = CURRENT_APP_VERSION

pytest_plugins = ("pytester",)  # the plugin tests run pytest on temporary projects


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """Raw httpx against the module's own `emulator` fixture (each module sets it up)."""
    async with httpx.AsyncClient(base_url=emulator.url) as http:
        yield http
