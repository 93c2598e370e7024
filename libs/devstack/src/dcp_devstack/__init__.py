"""Local stack for development and tests: a real Kafka broker (KRaft) and a real PostgreSQL server.

No Docker needed; see ``dcp-stack --help`` for the command line.
"""

from .config import SERVICE_DATABASES, StackConfig
from .kafka import StackError, create_topics
from .postgres import create_databases, database_url_for
from .stack import StackEndpoints, ensure_stack, stack_status, stop_stack

__all__ = [
    "SERVICE_DATABASES",
    "StackConfig",
    "StackEndpoints",
    "StackError",
    "create_databases",
    "create_topics",
    "database_url_for",
    "ensure_stack",
    "stack_status",
    "stop_stack",
]
