"""A batch worker: start it in several processes (or machines) that share one Redis.

    export JIMENG_TOKENS=token1,us-token2
    export JIMENG_REDIS_URL=redis://127.0.0.1:6379/0
    python examples/pool_worker.py --batch nightly --count 100 &
    python examples/pool_worker.py --batch nightly --count 100 &

The workers split the batch: each job is run by the worker that claims it, every account keeps
its limits (3 uploads, 5 queries in flight) across all workers, and if a worker dies the others
(or a rerun) pick its jobs up from the registry without submitting them again. Each worker
prints one JSON line per outcome it produced; together they give exactly one per input.
Needs the extras `redis` and, for `--images`, `emulator` (it draws the input pictures).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import anyio

import jimeng_async as jm


def inputs(count: int, batch: str, images: bool) -> Iterator[Any]:
    """The batch: the same inputs, in the same order, in every worker."""
    for index in range(count):
        prompt = f"a lighthouse in a storm, variation {index}"
        if images and index % 2:
            from jimeng_async.testing.media import png

            yield {"prompt": prompt, "images": [png(64, 48, key=f"{batch}-{index}")]}
        else:
            yield prompt


async def main(args: argparse.Namespace) -> None:
    async with jm.JimengPool(claim_ttl=args.claim_ttl) as pool:
        batch = pool.map_images(
            inputs(args.count, args.batch, args.images),
            concurrency=args.concurrency,
            batch_id=args.batch,
        )
        async for outcome in batch:
            line = {
                "worker": pool.worker_id,
                "index": outcome.index,
                "ok": outcome.ok,
                "history_id": outcome.history_id,
                "account": outcome.account,
                "resumed": outcome.resumed,
                "error": None if outcome.ok else str(outcome.error),
            }
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", required=True, help="the batch id all workers share")
    parser.add_argument("--count", type=int, required=True, help="number of inputs")
    parser.add_argument("--concurrency", type=int, default=8, help="jobs in flight per worker")
    parser.add_argument(
        "--claim-ttl", type=float, default=60.0, help="seconds a dead worker's jobs wait"
    )
    parser.add_argument(
        "--images", action="store_true", help="blend a picture into every other job"
    )
    parser.add_argument("--verbose", action="store_true", help="library debug log on stderr")
    arguments = parser.parse_args()
    if arguments.verbose:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")
        logging.getLogger("jimeng_async").setLevel(logging.DEBUG)
    anyio.run(main, arguments)
