"""The pytest plugin as users meet it: a temporary project run under three pytest set-ups.

Each run is a separate pytest process (pytester), with the plugin loaded from its entry point
as in a user's project. The fixtures must work in sync tests, in unmarked async tests under
pytest-asyncio's auto mode, and under anyio's plugin on both asyncio and trio, and a failing
or synchronous test must not poison the tests after it.
"""

from __future__ import annotations

import textwrap

import pytest

SYNC_TESTS = """
    import anyio
    import httpx
    import jimeng_async as jm


    def test_sync_test_gets_url_and_token(jimeng_emulator, jimeng_url, jimeng_token):
        assert jimeng_url == jimeng_emulator.url
        assert httpx.get(jimeng_url + "/no-such-path").status_code == 404
        assert jimeng_emulator.credits_of(jimeng_token) == 1000


    def test_sync_test_drives_a_session_with_anyio_run(jimeng_token, jimeng_settings):
        async def credits():
            async with jm.JimengSession(jimeng_token, settings=jimeng_settings) as s:
                return (await s.credits()).total

        assert anyio.run(credits) == 1000


    def test_a_failing_test(jimeng_emulator):
        raise AssertionError("on purpose")


    def test_after_a_failure_the_next_emulator_is_fresh(jimeng_emulator, jimeng_token):
        assert jimeng_emulator.records == {}
"""

ASYNC_BODY = """
    async def _image(token, settings):
        async with jm.JimengSession(token, settings=settings) as s:
            result = await s.generate_image("a cat")
        return len(result.images)
"""


def _expect(result: pytest.RunResult, passed: int, failed: int = 0) -> None:
    result.assert_outcomes(passed=passed, failed=failed)
    assert "ModuleNotFoundError" not in result.stdout.str()


def test_plain_pytest_with_sync_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sync=textwrap.dedent(SYNC_TESTS))
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-p", "no:cacheprovider")
    _expect(result, passed=3, failed=1)


def test_pytest_asyncio_auto_mode_with_unmarked_async_tests(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        test_auto="import jimeng_async as jm\n"
        + textwrap.dedent(ASYNC_BODY)
        + textwrap.dedent(
            """
    async def test_unmarked_async_test(jimeng_token, jimeng_settings):
        assert await _image(jimeng_token, jimeng_settings) == 4


    def test_sync_between(jimeng_emulator):
        assert jimeng_emulator.url.startswith("http://127.0.0.1:")


    async def test_again_after_a_sync_test(jimeng_token, jimeng_settings):
        assert await _image(jimeng_token, jimeng_settings) == 4
    """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--timeout", "60")
    _expect(result, passed=3)


def test_anyio_on_asyncio_and_trio(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(params=["asyncio", "trio"])
        def anyio_backend(request):
            return request.param
        """
    )
    pytester.makepyfile(
        test_backends="import httpx\nimport pytest\nimport jimeng_async as jm\n"
        + textwrap.dedent(ASYNC_BODY)
        + textwrap.dedent(
            """
    @pytest.mark.anyio
    async def test_raw_http_on_every_backend(jimeng_url, jimeng_token):
        async with httpx.AsyncClient(base_url=jimeng_url) as http:
            assert (await http.get("/no-such-path")).status_code == 404


    @pytest.mark.anyio
    async def test_a_session_on_asyncio(anyio_backend, jimeng_token, jimeng_settings):
        if anyio_backend != "asyncio":
            pytest.skip("the client is asyncio-native")
        assert await _image(jimeng_token, jimeng_settings) == 4
    """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, skipped=1)


def test_settings_fail_fast(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fast="""
        def test_short_timeouts(jimeng_settings):
            assert jimeng_settings.request_timeout <= 5
            assert jimeng_settings.generation_timeout <= 15
        """
    )
    _expect(pytester.runpytest_subprocess("-p", "no:cacheprovider"), passed=1)
