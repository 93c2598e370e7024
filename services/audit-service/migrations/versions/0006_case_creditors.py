"""Creditor isolation in the audit API: each case's creditor, from its CaseOpened (or placement) entry,
so a token scoped to some creditors reads only their cases' entries.

Revision ID: 0006
Revises: 0005
"""

import json
import os

import sqlalchemy as sa
from alembic import op

from audit_service.settings import DEFAULT_DB_ROLE

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE audit_case_creditors (
            case_id text PRIMARY KEY,
            creditor_id text NOT NULL
        )
        """
    )
    # The cases the trail already holds, from their CaseOpened (or placement) entries.
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT case_id, entry FROM audit_entries WHERE case_id IS NOT NULL AND kind = 'json'"
            " AND (event_type LIKE 'collections.case.opened.v%'"
            " OR event_type LIKE 'integration.placement.placed.v%') ORDER BY id"
        )
    ).all()
    found: dict[str, str] = {}
    for case_id, entry in rows:
        try:
            creditor = json.loads(bytes(entry))["event"]["data"]["account"]["creditor_id"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(creditor, str) and creditor:
            found.setdefault(case_id, creditor)
    for case_id, creditor in found.items():
        connection.execute(
            sa.text(
                "INSERT INTO audit_case_creditors (case_id, creditor_id) VALUES (:case_id, :creditor) "
                "ON CONFLICT DO NOTHING"
            ),
            {"case_id": case_id, "creditor": creditor},
        )
    role = os.environ.get("AUDIT_DB_ROLE", DEFAULT_DB_ROLE)
    if role:
        op.execute(f'GRANT SELECT, INSERT ON audit_case_creditors TO "{role}"')


def downgrade() -> None:
    op.execute("DROP TABLE audit_case_creditors")
