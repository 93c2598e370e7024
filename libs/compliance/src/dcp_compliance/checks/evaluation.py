"""What every rule check sees and returns: one evaluation of a pack's rules at one instant (of a
proposed contact, or of a promise to pay), and the refusal a check names."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import Enum
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo

from dcp_compliance.model import CaseFacts, Channel, ContactHistoryEntry, ProposedContact
from dcp_compliance.packs import Rule

__all__ = [
    "NOT_APPLICABLE",
    "Evaluation",
    "NotApplicable",
    "Outcome",
    "Refusal",
    "local_date",
    "local_instant",
]


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    reason: str
    next_at: datetime | None


class NotApplicable(Enum):
    """The rule says nothing about what is evaluated: it is left out of the rules checked."""

    NOT_APPLICABLE = "not applicable"


NOT_APPLICABLE: Final = NotApplicable.NOT_APPLICABLE

# A check returns None (the rule allows), a refusal, or NOT_APPLICABLE.
Outcome: TypeAlias = Refusal | NotApplicable | None


@functools.cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local wall time `at` on `day` (a time skipped by a DST gap maps to the
    instant just after the gap; a repeated one to its first occurrence)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


class Evaluation:
    """One evaluation of the rules at the instant `at` (now, or a later candidate time): of the
    `proposed` contact, or, when `due_on` is given, of a promise to pay due that day."""

    def __init__(
        self,
        facts: CaseFacts,
        history: Sequence[ContactHistoryEntry],
        proposed: ProposedContact,
        at: datetime,
        *,
        due_on: date | None = None,
    ) -> None:
        self.facts = facts
        self.history = history
        self.proposed = proposed
        self.at = at
        self.due_on = due_on
        self.zone = _zone(facts.time_zone)

    @classmethod
    def of_promise(cls, facts: CaseFacts, due_on: date, at: datetime) -> Evaluation:
        # No contact is proposed: the rules that decide promises never read `proposed`.
        return cls(facts, [], ProposedContact(channel=Channel.PHONE), at, due_on=due_on)

    @property
    def is_promise(self) -> bool:
        return self.due_on is not None

    def entries(self, scope: str) -> Iterable[ContactHistoryEntry]:
        if scope == "debt":
            return (e for e in self.history if e.case_id == self.facts.case_id)
        return iter(self.history)
