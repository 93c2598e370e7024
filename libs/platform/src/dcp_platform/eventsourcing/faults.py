"""Which failures are the infrastructure's (the database or the broker unavailable, a connection
lost) rather than the record's: those are retried with backoff until they clear and never make a
record a dead letter; only the record's own fault does."""

from __future__ import annotations

import asyncpg
from aiokafka import errors as kafka_errors
from sqlalchemy import exc as sa_errors

_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # ConnectionRefusedError, ConnectionResetError, socket errors
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed", "another operation is in progress"
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,
    # two transactions crossed (deadlock detected, could not serialize): run again, never the record's fault
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    sa_errors.PendingRollbackError,
    sa_errors.InterfaceError,
    sa_errors.TimeoutError,  # the connection pool
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.NotLeaderForPartitionError,
    kafka_errors.LeaderNotAvailableError,
    kafka_errors.NotEnoughReplicasError,
    kafka_errors.NotEnoughReplicasAfterAppendError,
)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc`, or what caused it, is the infrastructure failing (not the record's fault)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _TRANSIENT):
            return True
        if isinstance(current, sa_errors.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, kafka_errors.KafkaError) and getattr(current, "retriable", False):
            return True
        current = current.__cause__ or current.__context__
    return False
