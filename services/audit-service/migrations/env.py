"""Alembic environment of this service: shared runner from dcp_platform."""

from alembic import context

from dcp_platform.migrations import run_env

run_env(context)
