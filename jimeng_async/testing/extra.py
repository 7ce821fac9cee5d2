"""Whether the `emulator` extra (starlette, uvicorn) is installed, and the line that installs it.

The CLI, `python -m jimeng_async.testing` and the pytest plugin check this before importing the
server, so a missing extra ends in one clear sentence instead of a ModuleNotFoundError.
"""

from __future__ import annotations

import importlib.util

INSTALL_LINE = 'pip install "jimeng-async[emulator]"'
MISSING_MESSAGE = f"the emulator needs the `emulator` extra (starlette, uvicorn): {INSTALL_LINE}"
_MODULES = ("uvicorn", "starlette", "PIL", "av")


def missing_modules() -> list[str]:
    """The modules of the extra that cannot be imported here (empty when it is installed)."""
    missing = []
    for name in _MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules, or broken
            found = False
        if not found:
            missing.append(name)
    return missing


def emulator_available() -> bool:
    """True when the emulator can be imported."""
    return not missing_modules()
