"""A faithful local emulator of the Jimeng / Dreamina web API, for tests, demos and benchmarks.

    from jimeng_async.testing import Emulator, FaultConfig

    async with Emulator(time_scale=0.01, seed=1) as emu:
        token = emu.add_account("cn", credits=100)

Strict and tolerant as the service (PROTOCOL.md), with its own tables (`tables.py`) and Sign
(`signing.py`), never the client's. Options worth knowing: `Emulator(min_app_version="8.4.0")`
(older Appvr answer ret 3018), `add_account(..., credits_in_detail=True)` (2026 credit answers),
`emu.mark_risky(uri)` (algo_proxy and generate answer 2003), `FaultConfig(ret_codes=...)`.
Needs the `emulator` extra (starlette, uvicorn, Pillow, PyAV); names are imported on first use
so that the pytest plugin loads even where the extra is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import EmulatorConfig, Timeline
    from .faults import FaultConfig
    from .server import Emulator
    from .stats import EmulatorStats

__all__ = ["Emulator", "EmulatorConfig", "EmulatorStats", "FaultConfig", "Timeline"]

_HOMES = {
    "Emulator": ".server",
    "EmulatorConfig": ".config",
    "Timeline": ".config",
    "FaultConfig": ".faults",
    "EmulatorStats": ".stats",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home, __name__), name)
