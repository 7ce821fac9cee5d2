"""Shared fixtures: the anyio backend (asyncio, the library's target)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
