"""Generate images for a list of prompts with bounded concurrency; one line of outcome each.

    JIMENG_TOKEN=... python examples/batch_script.py prompts.txt out/

(`jimeng-async batch` does the same with a progress display and a resumable journal.)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio

import jimeng_async as jm


async def run_batch(
    token: str,
    prompts: list[str],
    out: Path,
    *,
    concurrency: int = 4,
    settings: jm.Settings | None = None,
) -> dict[str, list[Path] | str]:
    """prompt -> saved files, or the error text; at most `concurrency` jobs in flight."""
    outcomes: dict[str, list[Path] | str] = {}
    limiter = anyio.CapacityLimiter(concurrency)

    async def one(prompt: str) -> None:
        async with limiter:
            try:
                result = await session.generate_image(prompt)
                outcomes[prompt] = await result.save(out)
            except jm.JimengError as exc:  # one failed prompt does not stop the others
                outcomes[prompt] = f"{type(exc).__name__}: {exc}"

    async with (
        jm.JimengSession(token, settings=settings) as session,
        anyio.create_task_group() as tg,
    ):
        for prompt in prompts:
            tg.start_soon(one, prompt)
    return outcomes


def main() -> None:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    prompts = [line.strip() for line in source.read_text().splitlines() if line.strip()]
    outcomes = anyio.run(run_batch, os.environ["JIMENG_TOKEN"], prompts, out)
    for prompt, outcome in outcomes.items():
        print(f"{prompt}: {outcome if isinstance(outcome, str) else len(outcome)} files")


if __name__ == "__main__":
    main()
