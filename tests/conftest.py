"""Shared fixtures: the anyio backend (asyncio, the library's target) and a raw HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from jimeng_async.testing import Emulator

pytest_plugins = ("pytester",)  # the plugin tests run pytest on temporary projects


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """Raw httpx against the module's own `emulator` fixture (each module sets it up)."""
    async with httpx.AsyncClient(base_url=emulator.url) as http:
        yield http
