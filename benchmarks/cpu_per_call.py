"""Client CPU per web call: ours against bare httpx, both against the same minimal server.

Ours is `session.credits(refresh=True)`: the query slot, the time bound, headers, Sign, the
envelope decoding and the model. Bare httpx sends the same request (URL, the same headers
built once, body) on one `AsyncClient` and decodes the JSON: what the wire format itself costs
in httpx, so the ratio is the library's own overhead. Only this process's CPU (user + system)
is counted; the server runs in its own process.

The machine's load drifts (the spread between runs of 2,000 calls was 5-15%), so the figure is
not a ratio of two medians taken seconds apart: short runs of ours and bare alternate in pairs,
each pair's order flipped from the last (AB BA AB ...) so that a drift within a pair favours
neither, and the ratio is the median of the per-pair ratios.

    python -m benchmarks.cpu_per_call [--quick]
"""

from __future__ import annotations

import httpx

import jimeng_async as jm
from jimeng_async.auth import build_headers

from .harness import MinimalServer, Row, cpu_seconds, median, script_main, settings_for, spread

TOKEN = "0123456789abcdef0123456789abcdef"
PATH = "/commerce/v1/benefits/user_credit"


async def ours(url: str, calls: int) -> float:
    """Microseconds of client CPU per call."""
    async with jm.JimengSession(TOKEN, settings=settings_for(url)) as s:
        for _ in range(20):  # warm: connections, imports, caches
            await s.credits(refresh=True)
        before = cpu_seconds()
        for _ in range(calls):
            await s.credits(refresh=True)
        return (cpu_seconds() - before) / calls * 1e6


async def bare(url: str, calls: int) -> float:
    profile = settings_for(url).profile("cn")
    headers = build_headers(session_id=TOKEN, profile=profile, path=PATH, commerce=True)
    headers["Content-Type"] = "application/json"
    async with httpx.AsyncClient() as client:

        async def once() -> None:
            response = await client.post(url + PATH, content=b"{}", headers=headers)
            response.raise_for_status()
            response.json()

        for _ in range(20):
            await once()
        before = cpu_seconds()
        for _ in range(calls):
            await once()
        return (cpu_seconds() - before) / calls * 1e6


async def rows(quick: bool = False) -> list[Row]:
    calls, pairs = (20, 1) if quick else (600, 11)
    mine: list[float] = []
    base: list[float] = []
    async with MinimalServer() as server:
        for pair in range(pairs):
            if pair % 2:  # BA: a load change within the pair hits each side first in turn
                base.append(await bare(server.url, calls))
                mine.append(await ours(server.url, calls))
            else:
                mine.append(await ours(server.url, calls))
                base.append(await bare(server.url, calls))
    ratios = [m / b for m, b in zip(mine, base, strict=True)]
    ratio = median(ratios)
    return [
        Row(
            "client CPU per web call (us), vs bare httpx, minimal server",
            spread(mine, "{:.0f}"),
            f"{spread(base, '{:.0f}')} (same request, headers built once)",
            f"{ratio:.2f}",
            "<= 1.05",
            None if quick else ratio <= 1.05,
            f"median of {pairs} paired ratios ({spread(ratios)}), {calls} sequential calls per run",
        )
    ]


def main() -> None:
    script_main("benchmarks.cpu_per_call", rows)


if __name__ == "__main__":
    main()
