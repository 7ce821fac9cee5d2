"""A chat bot command: one message, edited in place as the job moves, then the images.

Works with any chat library whose messages can be edited (Telegram, Discord, Slack, ...):
adapt `Chat` and `Message` to it. The session is opened once for the bot's lifetime.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import jimeng_async as jm


class Message(Protocol):
    async def edit(self, text: str) -> None: ...


class Chat(Protocol):
    async def send(self, text: str) -> Message: ...

    async def send_files(self, paths: Sequence[Path]) -> None: ...


def progress_text(prompt: str, step: jm.Progress) -> str:
    """What the user sees while waiting."""
    if step.queue is not None and step.queue.position:
        return f"🎨 {prompt}: in queue, position {step.queue.position}"
    return f"🎨 {prompt}: {step.status.name.lower().replace('_', ' ')}"


async def draw(session: jm.JimengSession, chat: Chat, prompt: str, out: Path) -> list[Path]:
    """Handle `/draw <prompt>`: submit, show progress by editing one message, send the files."""
    message = await chat.send(f"🎨 {prompt}: submitting")
    try:
        task = await session.submit_image(prompt)
        async for step in task.progress():  # before `await task`: it yields while the job runs
            await message.edit(progress_text(prompt, step))
        result = await task
    except jm.InvalidInputError as exc:
        await message.edit(f"I can't draw that: {exc}")
        return []
    except jm.ContentFilteredError:  # the prompt at submit, or the images at the end
        await message.edit("That prompt was blocked by moderation.")
        return []
    except jm.InsufficientCreditsError:
        await message.edit("Out of credits for today.")
        return []
    except jm.JimengError as exc:
        await message.edit(f"Sorry, that failed: {exc}")
        return []
    paths = await result.save(out)
    await message.edit(f"🎨 {prompt}: done")
    await chat.send_files(paths)
    return paths
