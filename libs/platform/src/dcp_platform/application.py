"""Named commands and one handler table per service (the message-bus idea of cosmicpython's
`bootstrap.py` + `handlers.py`).

Routes, Kafka consumers, timers and imports only build a command and hand it to the service's
`CommandBus`; the bus looks the handler up in the table and runs it in a unit of work: a new
transaction, or the caller's (a consumer runs every command of a batch in the batch's transaction).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Generic, TypeVar

U = TypeVar("U")
"""The service's unit of work: its repositories and ports, bound to one transaction."""
E = TypeVar("E")
"""What every handler of the service may read besides the unit of work: policy, clock, settings."""

Handler = Callable[[Any, U, E], Awaitable[Any]]
UnitOfWorkFactory = Callable[[Any], AbstractAsyncContextManager[U]]
"""`factory(tx)`: a unit of work in the caller's transaction `tx`, or in a new one when `tx` is None."""


def in_transaction(store: Any, make: Callable[[Any], U]) -> UnitOfWorkFactory[U]:
    """The usual unit-of-work factory: `make(tx)` in the caller's transaction, or in a new one of
    `store` (which commits, or rolls back on an exception, when the block ends)."""

    @asynccontextmanager
    async def begin(tx: Any) -> AsyncIterator[U]:
        if tx is not None:
            yield make(tx)
            return
        async with store.transaction() as own:
            yield make(own)

    return begin


class UnknownCommand(LookupError):
    """A command type with no handler in the service's table."""


class CommandBus(Generic[U, E]):
    def __init__(
        self, handlers: Mapping[type, Handler[U, E]], unit_of_work: UnitOfWorkFactory[U], env: E
    ) -> None:
        self.handlers = dict(handlers)
        self.unit_of_work = unit_of_work
        self.env = env

    async def handle(self, command: object, *, tx: Any = None) -> Any:
        """Run `command`'s handler in a unit of work; what the handler returns."""
        handler = self.handlers.get(type(command))
        if handler is None:
            raise UnknownCommand(f"no handler for {type(command).__name__}")
        async with self.unit_of_work(tx) as uow:
            return await handler(command, uow, self.env)
