"""Who may make a contact: the staff directory case-service publishes on collections.staff, checked
before a permit or an attempt. A collector (or the agency an agent works for) known to the directory
must be present and hold a qualification covering the debtor's jurisdiction and language and, for the
channels worked in person (calls, field visits), that channel. Someone the directory does not know (a
dialer's system user, staff kept outside it) is not checked here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dcp_compliance import Decision
from dcp_compliance.model import Verdict
from dcp_events.catalogue.enums import Channel
from dcp_events.catalogue.staff import StaffMemberChanged, StaffQualification

RULE_ID = "PLATFORM-STAFF-QUALIFIED"
CITATION = (
    "Staff directory (case-service PUT /staff): qualifications by jurisdiction, language and channel; "
    "FCA SYSC 5.1.1R (personnel with the skills, knowledge and expertise for their responsibilities)"
)
PERSON_CHANNELS = frozenset({Channel.PHONE, Channel.FIELD_VISIT})
"""The channels a person works (messages and letters are sent by the platform)."""


@dataclass(frozen=True)
class StaffEntry:
    """A collector or an agency as the directory last said."""

    staff_id: str
    kind: str
    active: bool
    qualifications: tuple[StaffQualification, ...]

    @classmethod
    def from_event(cls, event: StaffMemberChanged) -> StaffEntry:
        return cls(event.staff_id, event.kind.value, event.active, tuple(event.qualifications))


def _primary(language: str) -> str:
    return language.split("-")[0].lower()


def covers(
    q: StaffQualification, jurisdiction: str, language: str | None, channel: Channel, today: date
) -> bool:
    return (
        (q.expires_on is None or today <= q.expires_on)
        and jurisdiction in q.jurisdictions
        and (language is None or _primary(language) in {_primary(lang) for lang in q.languages})
        and (channel not in PERSON_CHANNELS or channel in q.channels)
    )


def why_not_qualified(
    entry: StaffEntry, jurisdiction: str, language: str | None, channel: Channel, today: date
) -> str | None:
    """Why `entry` may not make this contact (None: it may)."""
    if not entry.active:
        return f"{entry.staff_id} is marked absent in the staff directory"
    if any(covers(q, jurisdiction, language, channel, today) for q in entry.qualifications):
        return None
    wanted = f"{jurisdiction} debtors" + (f" speaking {language}" if language else "")
    if channel in PERSON_CHANNELS:
        wanted += f" by {channel.value.replace('_', ' ')}"
    return f"{entry.staff_id} holds no current qualification for {wanted}"


def with_staff_check(
    decision: Decision,
    entry: StaffEntry | None,
    jurisdiction: str,
    language: str | None,
    channel: Channel,
    today: date,
) -> Decision:
    """The gate's decision, refused by the staff rule when the pack allowed it but the person may not."""
    if entry is None or not decision.allowed:
        return decision
    reason = why_not_qualified(entry, jurisdiction, language, channel, today)
    checked = (*decision.rules_checked, RULE_ID)
    if reason is None:
        return decision.model_copy(update={"rules_checked": checked})
    return decision.model_copy(
        update={
            "verdict": Verdict.DENY,
            "rule_id": RULE_ID,
            "citation": CITATION,
            "reason": reason,
            "next_allowed_at": None,
            "rules_checked": checked,
        }
    )
