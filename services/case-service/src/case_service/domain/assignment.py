"""Who may work a case, and the policies that choose among them.

Staff (collectors and external agencies) carry qualifications: the jurisdictions, languages and
channels they are trained and licensed for, each with an expiry. An expired qualification counts
as absent. No policy ever hands a case to someone unqualified for its jurisdiction and language,
or to someone at capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from case_service.domain.errors import AssigneeAtCapacity, AssigneeNotQualified, NoQualifiedAssignee
from dcp_events.catalogue.enums import AssigneeKind


class AssignmentPolicy(StrEnum):
    ROUND_ROBIN = "round_robin"  # next qualified collector of a team, in id order after the last one
    LEAST_LOADED = "least_loaded"  # the qualified collector (of a team, or anyone) with the lowest load
    AGENCY = "agency_at_stage"  # the least-loaded qualified external agency
    RECALL = "recall"  # back from an agency to the least-loaded qualified in-house collector
    DIRECT = "direct"  # a supervisor names the assignee; qualification and capacity still apply


def primary_language(tag: str) -> str:
    """`en-GB` -> `en`: qualification in a language covers its regional variants."""
    return tag.split("-", 1)[0].lower()


@dataclass(frozen=True)
class Qualification:
    jurisdictions: frozenset[str]
    languages: frozenset[str]
    channels: frozenset[str] = frozenset()
    expires_on: date | None = None

    def valid_on(self, today: date) -> bool:
        return self.expires_on is None or today <= self.expires_on

    def covers(
        self, jurisdiction: str, language: str, today: date, channels: frozenset[str] = frozenset()
    ) -> bool:
        languages = {primary_language(lang) for lang in self.languages}
        return (
            self.valid_on(today)
            and jurisdiction in self.jurisdictions
            and primary_language(language) in languages
            and channels <= self.channels
        )


@dataclass(frozen=True)
class StaffMember:
    """A collector or an external agency that cases can be assigned to."""

    kind: AssigneeKind
    id: str
    capacity: int
    team: str | None = None
    qualifications: tuple[Qualification, ...] = ()
    active: bool = True

    def qualified_for(
        self, jurisdiction: str, language: str, today: date, channels: frozenset[str] = frozenset()
    ) -> bool:
        return self.active and any(
            q.covers(jurisdiction, language, today, channels) for q in self.qualifications
        )


@dataclass(frozen=True)
class Candidate:
    member: StaffMember
    open_cases: int

    @property
    def has_room(self) -> bool:
        return self.open_cases < self.member.capacity

    @property
    def utilisation(self) -> float:
        return self.open_cases / self.member.capacity if self.member.capacity > 0 else float("inf")


@dataclass(frozen=True)
class CaseProfile:
    """What assignment looks at."""

    jurisdiction: str
    language: str
    channels: frozenset[str] = frozenset()  # the skills the case's strategy needs of a person


@dataclass(frozen=True)
class Choice:
    kind: AssigneeKind
    id: str
    policy: AssignmentPolicy
    reason: str
    team: str | None = field(default=None)


def _eligible(candidates: Sequence[Candidate], case: CaseProfile, today: date) -> list[Candidate]:
    return [
        c
        for c in candidates
        if c.has_room and c.member.qualified_for(case.jurisdiction, case.language, today, case.channels)
    ]


def _describe(case: CaseProfile) -> str:
    skills = f", channels {', '.join(sorted(case.channels))}" if case.channels else ""
    return f"jurisdiction {case.jurisdiction}, language {primary_language(case.language)}{skills}"


def choose(
    policy: AssignmentPolicy,
    case: CaseProfile,
    candidates: Sequence[Candidate],
    today: date,
    *,
    team: str | None = None,
    last_assigned_in_team: str | None = None,
) -> Choice:
    """Choose an assignee by `policy` among `candidates` (with their current loads)."""
    if policy in (AssignmentPolicy.ROUND_ROBIN, AssignmentPolicy.LEAST_LOADED, AssignmentPolicy.RECALL):
        pool = [
            c
            for c in candidates
            if c.member.kind is AssigneeKind.COLLECTOR and (team is None or c.member.team == team)
        ]
    elif policy is AssignmentPolicy.AGENCY:
        pool = [c for c in candidates if c.member.kind is AssigneeKind.AGENCY]
    else:
        raise ValueError("direct assignment goes through check_direct")
    eligible = sorted(_eligible(pool, case, today), key=lambda c: c.member.id)
    where = f" in team {team}" if team else ""
    if not eligible:
        raise NoQualifiedAssignee(
            f"no {'agency' if policy is AssignmentPolicy.AGENCY else 'collector'}{where} with capacity"
            f" is qualified for {_describe(case)}"
        )
    if policy is AssignmentPolicy.ROUND_ROBIN:
        after = [
            c for c in eligible if last_assigned_in_team is not None and c.member.id > last_assigned_in_team
        ]
        chosen = after[0] if after else eligible[0]
        reason = f"round robin{where}: next qualified collector for {_describe(case)}"
    else:
        chosen = min(eligible, key=lambda c: (c.utilisation, c.open_cases, c.member.id))
        what = {
            AssignmentPolicy.LEAST_LOADED: "least-loaded qualified collector",
            AssignmentPolicy.AGENCY: "agency placement: least-loaded qualified agency",
            AssignmentPolicy.RECALL: "recalled from agency to the least-loaded qualified collector",
        }[policy]
        reason = f"{what}{where} ({chosen.open_cases}/{chosen.member.capacity} open) for {_describe(case)}"
    return Choice(chosen.member.kind, chosen.member.id, policy, reason, chosen.member.team)


def check_direct(candidate: Candidate, case: CaseProfile, today: date, reason: str) -> Choice:
    """A supervisor's named assignee, if qualified and with room."""
    member = candidate.member
    if not member.qualified_for(case.jurisdiction, case.language, today):
        raise AssigneeNotQualified(
            f"{member.kind.value} {member.id} holds no valid qualification for {_describe(case)}"
        )
    if not candidate.has_room:
        raise AssigneeAtCapacity(
            f"{member.kind.value} {member.id} is at capacity ({candidate.open_cases}/{member.capacity})"
        )
    return Choice(member.kind, member.id, AssignmentPolicy.DIRECT, reason, member.team)
