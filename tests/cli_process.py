"""Run `jimeng-async` as a child process and read its stderr until a line says what we wait for.

The wait is bounded by a watchdog that kills the child, so a broken command fails the test
instead of hanging it; nothing here waits on time to pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping

WATCHDOG_SECONDS = 60.0


class CliProcess:
    def __init__(self, argv: list[str], env: Mapping[str, str], cwd: str | None = None) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 (our own command, fixed arguments)
            [sys.executable, "-m", "jimeng_async.cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
            cwd=cwd,
        )
        self.err_lines: list[str] = []
        self._watchdog = threading.Timer(WATCHDOG_SECONDS, self.proc.kill)
        self._watchdog.start()

    def wait_for(self, seen: Callable[[list[str]], bool]) -> None:
        """Read stderr lines until `seen(lines)` holds; fails if the process ends first."""
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err_lines.append(line.rstrip("\n"))
            if seen(self.err_lines):
                return
        raise AssertionError("the command ended first:\n" + "\n".join(self.err_lines))

    def finish(self) -> tuple[int, str, str]:
        """Exit code, stdout, and the rest of stderr."""
        out, err = self.proc.communicate()
        self._watchdog.cancel()
        return self.proc.returncode, out, "\n".join(self.err_lines) + "\n" + err
