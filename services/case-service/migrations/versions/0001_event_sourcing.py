"""Event store, outbox, consumer offsets, processed events and durable timers (the platform's tables).

Revision ID: 0001
Revises:
"""

from dcp_platform.migrations import event_sourcing_revision

revision, down_revision, upgrade, downgrade = event_sourcing_revision()
