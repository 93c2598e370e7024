"""The start/stop life cycle the platform's running parts share: the app lifespan that runs it, and
the background loop (woken on demand or at its poll interval, stopped after the work in hand)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any


class Lifecycle:
    """Something started with the app and stopped with it."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    @asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()


class BackgroundLoop:
    """One task running a loop; `wake()` asks it to look now, `stop_loop()` lets it finish its round."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def start_loop(self, run: Coroutine[Any, Any, None], name: str) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(run, name=name)

    async def stop_loop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class Periodic(BackgroundLoop):
    """Runs `action` every `interval` seconds (never when the interval is 0), and at once on `wake()`;
    a failure is logged as `failure` with its traceback and the next round runs all the same."""

    def __init__(
        self,
        name: str,
        interval: float,
        action: Callable[[], Awaitable[object]],
        failure: str,
        *,
        wakeable: bool = False,
    ) -> None:
        BackgroundLoop.__init__(self)
        self._name, self._interval, self._action, self._failure = name, interval, action, failure
        self._wakeable = wakeable  # with interval 0: still runs, on `wake()` only

    async def start(self) -> None:
        if self._interval > 0 or self._wakeable:
            self.start_loop(self._run(), self._name)

    async def stop(self) -> None:
        await self.stop_loop()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval if self._interval > 0 else None)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                await self._action()
            except Exception:
                logging.getLogger(__name__).exception(self._failure)
