"""The batch runner behind `JimengPool.map_images` / `map_videos`.

Inputs are pulled lazily; at most `concurrency` jobs run at once and at most `concurrency`
finished outcomes wait for the consumer, so memory stays flat for any number of inputs. Every
job goes through the registry (the pool's state) and the journal: "placed" before its submit
is sent, "submitted" with its history id, "finished" with its outcome. A job found already
submitted is only waited for; one found placed is sent again with the same submit id to the
same account (the service answers with the same job, charged once).

Workers sharing a Redis state and a batch id split the batch: each job is run by the worker
that claims it; a worker that finds a job claimed by another waits (without a concurrency
slot) until that job finishes or its claim expires because the worker died, and then runs it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from .errors import InvalidInputError, JimengError
from .models import Kind
from .pool import JimengPool, OnTask, Outcome, Placement, PoolError, batch_submit_id
from .pool_journal import Journal
from .results import Result
from .state import JobEntry
from .tasks import GenerationTask

logger = logging.getLogger("jimeng_async")


class _JobPlacement(Placement):
    """A batch job's placement: deterministic submit ids, registry and journal records."""

    def __init__(self, batch: Batch, index: int, entry: JobEntry | None, kind: Kind) -> None:
        placed = entry is not None and entry.status == "placed"
        super().__init__(
            account_key=entry.account if placed and entry else None,
            moves=entry.moves if entry else 0,
        )
        self.shielded = True
        self._batch = batch
        self._index = index
        self._kind: Kind = kind
        self.entry: JobEntry | None = None

    def submit_id(self) -> str:
        return batch_submit_id(self._batch.batch_id, self._index, self.moves)

    async def placed(self, account_key: str, masked: str, submit_id: str) -> None:
        self.entry = JobEntry(
            index=self._index,
            kind=self._kind,
            submit_id=submit_id,
            account=account_key,
            status="placed",
            moves=self.moves,
        )
        await self._batch.record(self.entry, "placed", account=masked)


class Batch:
    """One run of a batch by this worker; `kind` None: each input names its own kind."""

    def __init__(
        self,
        pool: JimengPool,
        kind: Kind | None,
        journal: Journal | None,
        batch_id: str | None,
        on_task: OnTask | None = None,
    ) -> None:
        self.pool = pool
        self.kind: Kind | None = kind
        self.journal = journal
        self.on_task = on_task
        self.batch_id = batch_id or ""
        self._from_journal: set[int] = set()
        self._held: set[str] = set()

    def key(self, index: int) -> str:
        return f"{self.batch_id}:{index}"

    async def record(self, entry: JobEntry, event: str, **extra: Any) -> None:
        """Write a job's new state to the registry, then to the journal."""
        with anyio.CancelScope(shield=True):
            await self.pool.state.put_job(self.key(entry.index), entry)
            if self.journal is not None:
                await self.journal.write(
                    {
                        "event": event,
                        "index": entry.index,
                        "kind": entry.kind,
                        "submit_id": entry.submit_id,
                        "history_id": entry.history_id or None,
                        "account_key": entry.account,
                        "moves": entry.moves,
                        **extra,
                    }
                )

    async def _start(self) -> None:
        """Take the batch id from the journal (a resumed batch) and seed the registry."""
        if self.journal is None:
            self.batch_id = self.batch_id or uuid.uuid4().hex
            return
        journal_id, entries = self.journal.read()
        if journal_id and self.batch_id and journal_id != self.batch_id:
            raise InvalidInputError(
                "batch_id", f"differs from the journal's batch id {journal_id!r}"
            )
        self.batch_id = journal_id or self.batch_id or uuid.uuid4().hex
        if journal_id is None:
            await self.journal.write(
                {"event": "batch", "batch_id": self.batch_id, "kind": self.kind or "mixed"}
            )
        for index, entry in entries.items():
            self._from_journal.add(index)
            if await self.pool.state.get_job(self.key(index)) is None:
                await self.pool.state.put_job(self.key(index), entry)

    async def run(
        self, inputs: Iterable[Any] | AsyncIterable[Any], concurrency: int
    ) -> AsyncGenerator[Outcome, None]:
        await self._start()
        self.pool._require_open()
        send, receive = anyio.create_memory_object_stream[Outcome](concurrency)
        slots = anyio.Semaphore(concurrency)
        with receive:
            async with anyio.create_task_group() as group:
                group.start_soon(self._feed, inputs, slots, send)
                group.start_soon(self._renew_claims)
                try:
                    async for outcome in receive:
                        yield outcome
                except GeneratorExit:
                    pass  # the consumer stopped early: jobs in flight stop waiting, records stay
                finally:
                    # Stops the claim renewer (and the jobs, if the consumer left early).
                    group.cancel_scope.cancel()

    async def _feed(
        self,
        inputs: Iterable[Any] | AsyncIterable[Any],
        slots: anyio.Semaphore,
        send: MemoryObjectSendStream[Outcome],
    ) -> None:
        async with send, anyio.create_task_group() as jobs:
            index = 0
            async for item in _each(inputs):
                await slots.acquire()
                jobs.start_soon(self._job, index, item, slots, send.clone())
                index += 1

    async def _renew_claims(self) -> None:
        """Keep this worker's claims alive while it runs their jobs."""
        while True:
            await anyio.sleep(self.pool.claim_ttl / 3)
            await self.pool.state.renew_claims(
                sorted(self._held), self.pool.worker_id, self.pool.claim_ttl
            )

    async def _job(
        self,
        index: int,
        item: Any,
        slots: anyio.Semaphore,
        send: MemoryObjectSendStream[Outcome],
    ) -> None:
        async with send:
            try:
                outcome = await self._claimed(index, item, slots)
            except Exception as exc:  # an outcome, never a torn batch
                error = exc if isinstance(exc, JimengError) else PoolError(f"unexpected: {exc!r}")
                if error is not exc:
                    error.__cause__ = exc
                kind = _kind_of(self.kind, item)
                outcome = Outcome(index=index, input=item, kind=kind, error=error)
            try:
                if outcome is not None:
                    await send.send(outcome)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass  # the consumer has gone; the registry and journal hold the outcome
            finally:
                slots.release()

    async def _claimed(self, index: int, item: Any, slots: anyio.Semaphore) -> Outcome | None:
        """Run the job once this worker holds its claim; None if another worker ran it."""
        key, pool = self.key(index), self.pool
        if not await pool.state.claim_job(key, pool.worker_id, pool.claim_ttl):
            slots.release()  # waiting for another worker costs no slot
            try:
                if not await self._wait_for_claim(key):
                    return None
            finally:
                await slots.acquire()
        self._held.add(key)
        try:
            return await self._run(index, item)
        finally:
            self._held.discard(key)
            with anyio.CancelScope(shield=True):
                await pool.state.drop_claim(key, pool.worker_id)

    async def _wait_for_claim(self, key: str) -> bool:
        """Wait until the job is finished by its worker (False) or its claim is free (True).

        Bounded: the other worker's wait on the job ends within the generation limit.
        """
        pool = self.pool
        limit = pool.settings.generation_timeout + 2 * pool.claim_ttl
        with anyio.move_on_after(limit):
            while True:
                entry = await pool.state.get_job(key)
                if entry is not None and entry.status in ("done", "failed"):
                    return False
                if await pool.state.claim_job(key, pool.worker_id, pool.claim_ttl):
                    return True
                # Another process finishes or dies: there is no local event to wait on.
                await anyio.sleep(min(pool.claim_ttl / 4, 1.0))
        raise PoolError(f"job {key} is still held by another worker after {limit:g}s")

    async def _run(self, index: int, item: Any) -> Outcome | None:
        entry = await self.pool.state.get_job(self.key(index))
        if entry is not None and entry.status in ("done", "failed"):
            if index not in self._from_journal:
                return None  # finished by another worker of this batch: its outcome
            if not entry.history_id:
                entry = None  # refused before: nothing was charged, so try again
        kind, options = _job_input(self.kind, item)
        if entry is not None and entry.history_id:
            return await self._resume(index, item, entry, kind)
        placement = _JobPlacement(self, index, entry, kind)
        try:
            account, task, lease = await self.pool._submit(kind, options, placement)
        except JimengError as exc:
            if placement.entry is not None:
                placement.entry.status, placement.entry.error = "failed", str(exc)
                await self.record(placement.entry, "finished", outcome="error", error=str(exc))
                await self.pool.state.forget_job(self.key(index))
            return Outcome(index=index, input=item, kind=kind, error=exc)
        entry = placement.entry
        assert entry is not None
        entry.status, entry.history_id = "submitted", task.history_id
        await self.record(entry, "submitted", account=account.token_masked)
        logger.debug(
            "batch %s: job %d submitted as %s on %s",
            self.batch_id,
            index,
            task.history_id,
            account.token_masked,
        )
        return await self._finish(index, item, entry, task, account.key, lease, resumed=False)

    async def _resume(self, index: int, item: Any, entry: JobEntry, kind: Kind) -> Outcome:
        account = self.pool._by_key.get(entry.account)
        if account is None:
            error = PoolError(f"job {entry.history_id} belongs to an account not in this pool")
            return Outcome(index=index, input=item, kind=kind, error=error)
        lease = await self.pool._job_lease(account)
        task = account.session.resume(entry.history_id, kind=kind, submit_id=entry.submit_id)
        return await self._finish(index, item, entry, task, account.key, lease, resumed=True)

    async def _finish(
        self,
        index: int,
        item: Any,
        entry: JobEntry,
        task: GenerationTask[Result],
        key: str,
        lease: str,
        *,
        resumed: bool,
    ) -> Outcome:
        masked = self.pool._by_key[key].token_masked
        result: Result | None = None
        error: JimengError | None = None
        try:
            if self.on_task is not None:
                await self.on_task(index, task)
            result = await task
        except JimengError as exc:
            error = exc
            await self.pool._after_wait(key, exc)
        finally:
            await self.pool._release(key, lease)
        entry.status = "done" if error is None else "failed"
        entry.error = "" if error is None else str(error)
        await self.record(
            entry, "finished", outcome="ok" if error is None else "error", error=entry.error or None
        )
        await self.pool.state.forget_job(self.key(index))
        return Outcome(
            index=index,
            input=item,
            kind=task.kind or _kind_of(self.kind, item),
            result=result,
            error=error,
            history_id=task.history_id,
            submit_id=entry.submit_id,
            account=masked,
            resumed=resumed,
        )


def _kind_of(batch_kind: Kind | None, item: Any) -> Kind:
    """The kind of one input as far as it can be told (for the outcome of a refused input)."""
    if batch_kind is not None:
        return batch_kind
    kind = item.get("kind") if isinstance(item, Mapping) else None
    return "video" if kind == "video" else "image"


def _job_input(batch_kind: Kind | None, item: Any) -> tuple[Kind, dict[str, Any]]:
    """The kind and submit options of one input: a prompt string or a mapping with a `prompt`
    (in a mixed batch, a mapping that also names its `kind`)."""
    kind: Kind
    if batch_kind is None:
        named = item.get("kind") if isinstance(item, Mapping) else None
        if named not in ("image", "video"):
            raise InvalidInputError(
                "inputs",
                "an input of a mixed batch must be a mapping with a 'kind' and a 'prompt'",
                allowed="kind: image, video",
            )
        kind = "image" if named == "image" else "video"
        item = {k: v for k, v in item.items() if k != "kind"}
    else:
        kind = batch_kind
    if isinstance(item, str):
        return kind, {"prompt": item}
    if isinstance(item, Mapping) and isinstance(item.get("prompt"), str):
        options = dict(item)
        if "submit_id" in options:
            raise InvalidInputError("submit_id", "is chosen by the batch (stable per input)")
        return kind, options
    raise InvalidInputError(
        "inputs", f"an {kind} input must be a prompt or a mapping with a 'prompt' string"
    )


async def _each(inputs: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(inputs, AsyncIterable):
        async for item in inputs:
            yield item
    else:
        for item in inputs:
            yield item
