"""Without the `emulator` extra: one clear line with the install command, exit 2, no traceback.

The missing extra is simulated in a child process by making `uvicorn` and `starlette`
unimportable (None in sys.modules), as on a machine where they were never installed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from jimeng_async.testing.extra import INSTALL_LINE

HIDE_EXTRA = "import sys; sys.modules['uvicorn'] = None; sys.modules['starlette'] = None; "


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", HIDE_EXTRA + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "code",
    [
        "from jimeng_async.cli import main; sys.exit(main(['emulator', '--port', '0']))",
        "from jimeng_async.cli import main; sys.exit(main(['demo']))",
        "import runpy; sys.argv = ['x', '--port', '0']; "
        "runpy.run_module('jimeng_async.testing', run_name='__main__')",
    ],
    ids=["cli-emulator", "cli-demo", "python-m-testing"],
)
def test_commands_print_the_install_line_and_exit_2(code: str) -> None:
    done = _run(code)
    assert done.returncode == 2, done.stderr
    assert INSTALL_LINE in done.stderr
    assert "Traceback" not in done.stderr


def test_plugin_fixtures_fail_with_the_install_line(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import sys\nsys.modules['uvicorn'] = None\nsys.modules['starlette'] = None\n"
    )
    pytester.makepyfile(test_x="def test_needs_it(jimeng_emulator):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    assert INSTALL_LINE in result.stdout.str()
    assert "ModuleNotFoundError" not in result.stdout.str()
