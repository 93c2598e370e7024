"""The staff directory at the gate: a collector (or the agency an agent works for) the directory knows
is refused a call, a visit or a message its qualifications do not cover, with the rule recorded; one it
does not know is not checked."""

from __future__ import annotations

from datetime import date

import pytest

from contact_service.adapters.memory import InMemoryContactService
from contact_service.application import commands as c
from contact_service.application.ports import ContactEnvironment
from contact_service.domain.errors import ContactRefused
from contact_service.domain.staff import RULE_ID, StaffEntry, with_staff_check
from dcp_compliance import Decision, ProposedContact
from dcp_compliance.model import Verdict
from dcp_events.catalogue.enums import AssigneeKind, Channel, ContactOutcome
from dcp_events.catalogue.staff import StaffMemberChanged, StaffQualification
from dcp_platform.auth import Principal, Role
from dcp_platform.clock import ManualClock

from .test_contact_application import COLLECTOR, START, ZONES, at_local, open_case

TODAY = date(2026, 12, 1)


@pytest.fixture
def service() -> InMemoryContactService:
    return InMemoryContactService(ContactEnvironment(ManualClock(START)))


def entry(*qualifications: StaffQualification, active: bool = True, staff_id: str = "col-1") -> StaffEntry:
    return StaffEntry.from_event(
        StaffMemberChanged(
            kind=AssigneeKind.COLLECTOR, staff_id=staff_id, capacity=10, active=active,
            qualifications=list(qualifications),
        )
    )  # fmt: skip


def allowed() -> Decision:
    return Decision(
        verdict=Verdict.ALLOW, pack_id="US", pack_version="2026.1", jurisdiction="US",
        decided_at="2026-12-01T15:00:00Z", rules_checked=("US-REGF-TIME",),
    )  # fmt: skip


US_PHONE = StaffQualification(jurisdictions=["US"], languages=["en"], channels=[Channel.PHONE])


@pytest.mark.parametrize(
    ("member", "language", "channel", "why"),
    [
        (entry(US_PHONE), "en-US", Channel.PHONE, None),
        (entry(US_PHONE), "en-US", Channel.SMS, None),  # a message is sent by the platform
        (entry(US_PHONE), "en-US", Channel.FIELD_VISIT, "by field visit"),
        (entry(US_PHONE), "es-US", Channel.PHONE, "speaking es-US"),
        (entry(US_PHONE, active=False), "en-US", Channel.PHONE, "marked absent"),
        (entry(US_PHONE.model_copy(update={"expires_on": date(2026, 11, 30)})), "en", Channel.PHONE,
         "no current"),
        (entry(StaffQualification(jurisdictions=["GB"], languages=["en"], channels=[Channel.PHONE])), "en",
         Channel.PHONE, "for US debtors"),
        (None, "en-US", Channel.FIELD_VISIT, None),  # not in the directory: not checked here
    ],
)  # fmt: skip
def test_the_directory_decides_who_may_contact_whom(
    member: StaffEntry | None, language: str, channel: Channel, why: str | None
) -> None:
    decision = with_staff_check(allowed(), member, "US", language, channel, TODAY)
    if why is None:
        assert decision.allowed
    else:
        assert not decision.allowed and decision.rule_id == RULE_ID
        assert why in (decision.reason or ""), decision.reason
        assert decision.next_allowed_at is None and RULE_ID in decision.rules_checked


def test_a_pack_refusal_stands_as_the_pack_gave_it() -> None:
    denied = allowed().model_copy(update={"verdict": Verdict.DENY, "rule_id": "US-REGF-TIME"})
    assert with_staff_check(denied, entry(), "US", "en", Channel.PHONE, TODAY) == denied


async def test_an_unqualified_collector_is_refused_a_permit_and_the_refusal_is_recorded(
    service: InMemoryContactService,
) -> None:
    at_local(service, ZONES["US"], 12)
    case_id = await open_case(service)
    call = ProposedContact(channel=Channel.PHONE, collector_id=COLLECTOR.subject)
    assert (
        await service.handle(c.CheckContact(COLLECTOR, case_id, call))
    ).allowed  # not in the directory yet
    texts_only = StaffQualification(jurisdictions=["US"], languages=["en"], channels=[Channel.SMS])
    await service.handle(c.RecordStaffMember(entry(texts_only)))
    answer: c.PermitAnswer = await service.handle(c.IssuePermit(COLLECTOR, case_id, call, "pmt-2"))
    assert answer.permit is None and answer.decision.rule_id == RULE_ID
    assert service.books.contacts["pmt-2"]["rule_id"] == RULE_ID  # recorded as a refusal (ContactBlocked)
    attempt = c.RecordAttempt(COLLECTOR, case_id, call, "att-3", ContactOutcome.NO_ANSWER, 5)
    with pytest.raises(ContactRefused, match="qualification"):
        (await service.handle(attempt)).raise_if_refused()
    # A supervisor naming the collector is held to the collector's qualifications too.
    supervisor = Principal(subject="sup-1", role=Role.SUPERVISOR)
    named = await service.handle(c.CheckContact(supervisor, case_id, call))
    assert named.rule_id == RULE_ID


async def test_an_agent_is_held_to_the_agency_qualifications(service: InMemoryContactService) -> None:
    at_local(service, ZONES["US"], 12)
    case_id = await open_case(service, collector="agent-7")
    agent = Principal(subject="agent-7", role=Role.COLLECTOR, agency_id="agency-1")
    gb_only = StaffQualification(jurisdictions=["GB"], languages=["en"], channels=[Channel.PHONE])
    await service.handle(c.RecordStaffMember(entry(gb_only, staff_id="agency-1")))
    call = ProposedContact(channel=Channel.PHONE, collector_id="agent-7", agency_id="agency-1")
    decision = await service.handle(c.CheckContact(agent, case_id, call))
    assert decision.rule_id == RULE_ID and "agency-1" in (decision.reason or "")
