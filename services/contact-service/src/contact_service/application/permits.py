"""Contact permits: the gate decides before the contact, and what was decided is recorded after it.

`issue_permit` decides under the debtor's lock and, when allowed, issues a signed single-use permit
whose reservation counts in every cap and cool-down at once (the read models count a live permit as a
contact made when it was issued), so two dialers asking at the cap's edge get one permit and one
refusal. `record_permit_outcome` records the contact made on it (`ContactAttempted` with the permit
id); an unused permit expires by durable timer and frees its place (`ContactPermitExpired`). A
contact recorded on a permit already used or expired is still recorded — it took place and counts —
and answered as such (the audit-service reports it as a finding).

Contacts other systems made (integration.contacts) are recorded here too, with their source: the
gate counts them from then on; whether it would have allowed them is the audit's question.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contact_service.application import commands as c
from contact_service.application.ports import (
    CaseRow,
    ContactEnvironment,
    ContactReads,
    ContactRecord,
    ContactUnitOfWork,
    PermitRecord,
)
from contact_service.application.queries import gate_decision, history_for
from contact_service.application.steps import (
    attempt_event,
    case_locked,
    count_decision,
    record,
    stored_decision,
)
from contact_service.domain.contacts import CaseContacts, PermitStanding
from contact_service.domain.errors import AttemptIdTaken, CaseUnknown, PermitUnknown
from contact_service.domain.staff import with_staff_check
from dcp_compliance import (
    ContactHistoryEntry,
    ContactPurpose,
    Decision,
    ProposedContact,
    apply_payload,
    decide_case,
)
from dcp_compliance.model import Verdict
from dcp_compliance.permits import contact_point_digest
from dcp_events.catalogue.contacts import (
    ContactAttempted,
    ContactPermitIssued,
    MessageDeliveryReported,
    VerificationSent,
)
from dcp_events.catalogue.integration import ContactReported
from dcp_platform.application import Handler

PERMIT_EXPIRY = "contact-permit-expiry"
"""The durable timer (key: the permit id) that releases an unused permit at its `expires_at`."""

_HORIZON_STEP = timedelta(minutes=1)


def new_permit_id() -> str:
    return f"pmt-{uuid.uuid4().hex}"


def permit_horizon(
    case: CaseRow,
    proposed: ProposedContact,
    history: list[ContactHistoryEntry],
    now: datetime,
    ttl: timedelta,
) -> datetime:
    """Until when the contact may start: `now + ttl`, or earlier when the gate would refuse the same
    contact before then (quiet hours beginning, a hold or a time-bar taking effect). What turns a
    contact away within minutes stays so for longer (a window closes for the night), so the last allowed
    moment is found by halving, to the minute: one decision when nothing changes, about four when it does."""
    if decide_case(case.facts, history, proposed, now + ttl).allowed:
        return now + ttl
    allowed, refused = now, now + ttl
    while refused - allowed > _HORIZON_STEP:
        middle = allowed + (refused - allowed) / 2
        if decide_case(case.facts, history, proposed, middle).allowed:
            allowed = middle
        else:
            refused = middle
    return allowed


async def issue(
    uow: ContactUnitOfWork,
    env: ContactEnvironment,
    case: CaseRow,
    proposed: ProposedContact,
    permit_id: str,
    decision: Decision,
    now: datetime,
    history: list[ContactHistoryEntry],
) -> PermitRecord:
    """Issue the permit the gate allowed over `history` (the caller holds the debtor's lock): event,
    row, expiry timer."""
    not_after = permit_horizon(case, proposed, history, now, env.permit_ttl)
    expires_at = not_after + env.permit_grace
    signed: dict[str, Any] = {
        "permit_id": permit_id,
        "case_id": case.case_id,
        "channel": proposed.channel.value,
        "contact_point_sha256": contact_point_digest(proposed.contact_point),
        "rule_pack_id": decision.pack_id,
        "rule_pack_version": decision.pack_version,
        "not_after": not_after,
    }
    signature = env.signer.sign(signed)
    purpose = None if proposed.purpose is ContactPurpose.COLLECTION else proposed.purpose
    event = ContactPermitIssued(
        permit_id=permit_id,
        channel=proposed.channel,
        party=proposed.party,
        purpose=purpose,
        collector_id=proposed.collector_id,
        agency_id=proposed.agency_id,
        contact_point=proposed.contact_point,
        contact_point_sha256=signed["contact_point_sha256"],
        debtor_id=case.debtor_id,
        not_after=not_after,
        expires_at=expires_at,
        rule_pack_id=decision.pack_id,
        rule_pack_version=decision.pack_version,
        debtor_time_zone=decision.time_zone if decision.local_time is not None else None,
        time_zone_source=decision.time_zone_source,
        key_id=env.signer.key_id,
        signature=signature,
    )
    await record(uow, env, case, [event])
    permit = PermitRecord(
        permit_id=permit_id,
        case_id=case.case_id,
        debtor_id=case.debtor_id,
        issued_at=now,
        not_after=not_after,
        expires_at=expires_at,
        channel=proposed.channel,
        party=proposed.party,
        purpose=proposed.purpose,
        collector_id=proposed.collector_id,
        agency_id=proposed.agency_id,
        contact_point=proposed.contact_point,
        contact_point_sha256=signed["contact_point_sha256"],
        pack_id=decision.pack_id,
        pack_version=decision.pack_version,
        key_id=env.signer.key_id,
        signature=signature,
    )
    await uow.insert_permit(permit)
    await uow.schedule_timer(PERMIT_EXPIRY, permit_id, expires_at, {"case_id": case.case_id})
    return permit


def permit_decision(permit: PermitRecord, case: CaseRow, reason: str | None = None) -> Decision:
    """The gate's allowing decision a permit stands for (answered again to a repeat)."""
    try:
        local_time: str | None = permit.issued_at.astimezone(ZoneInfo(case.facts.time_zone)).isoformat()
    except (ZoneInfoNotFoundError, ValueError):
        local_time = None  # an unknown zone: no permit is ever issued for it, but say nothing false
    return Decision.model_validate(
        {
            "verdict": "allow",
            "reason": reason,
            "pack_id": permit.pack_id,
            "pack_version": permit.pack_version,
            "jurisdiction": case.jurisdiction,
            "time_zone": case.facts.time_zone,
            "time_zone_source": case.facts.time_zone_source,
            "decided_at": permit.issued_at,
            "local_time": local_time,
        }
    )


def contact_record(
    case: CaseRow,
    proposed: ProposedContact,
    attempt_id: str,
    at: datetime,
    decision: Decision,
    **outcome: Any,
) -> ContactRecord:
    return ContactRecord(
        attempt_id=attempt_id,
        case_id=case.case_id,
        debtor_id=case.debtor_id,
        at=at,
        decision=decision,
        channel=proposed.channel,
        party=proposed.party,
        purpose=proposed.purpose,
        outcome=outcome.get("outcome"),
        collector_id=proposed.collector_id,
        agency_id=proposed.agency_id,
        contact_point=proposed.contact_point,
        duration_seconds=outcome.get("duration_seconds"),
        recording_ref=proposed.recording_ref,
        permit_id=outcome.get("permit_id"),
        source=outcome.get("source"),
    )


async def staff_checked(
    reads: ContactReads, case: CaseRow, proposed: ProposedContact, decision: Decision, now: datetime
) -> Decision:
    """`decision`, refused when the person making the contact (the collector, else the agency) is in
    the staff directory and not qualified for this debtor and channel."""
    entry = await reads.staff_member(proposed.collector_id) if proposed.collector_id else None
    if entry is None and proposed.agency_id:
        entry = await reads.staff_member(proposed.agency_id)
    language = case.profile.get("language")
    return with_staff_check(
        decision, entry, case.jurisdiction, language if isinstance(language, str) else None, proposed.channel,
        now.date(),
    )  # fmt: skip


async def issue_permit(
    command: c.IssuePermit, uow: ContactUnitOfWork, env: ContactEnvironment
) -> c.PermitAnswer:
    case = await case_locked(uow, command.case_id, command.principal)
    earlier = await uow.find_permit(command.permit_id)
    if earlier is not None:
        if earlier.case_id != case.case_id:
            raise AttemptIdTaken(f"permit id {command.permit_id} was issued for another case")
        return c.PermitAnswer(earlier, permit_decision(earlier, case), False, command.permit_id)
    refused = await uow.find_contact(command.permit_id)
    if refused is not None:  # a refusal recorded under this id before: answered again
        return c.PermitAnswer(None, stored_decision(refused, case), False, command.permit_id)
    now = env.now()
    proposed = command.proposed
    history = await history_for(uow, case, proposed, now)
    decision = await staff_checked(uow, case, proposed, decide_case(case.facts, history, proposed, now), now)
    if not decision.allowed:
        await record(uow, env, case, [attempt_event(case, proposed, command.permit_id, decision)])
        await uow.record_contact(contact_record(case, proposed, command.permit_id, now, decision))
        uow.after_commit(lambda: count_decision(case, decision, "permit"))
        return c.PermitAnswer(None, decision, True, command.permit_id)
    permit = await issue(uow, env, case, proposed, command.permit_id, decision, now, history)
    uow.after_commit(lambda: count_decision(case, decision, "permit"))
    return c.PermitAnswer(permit, decision, True, command.permit_id)


async def use_permit(
    uow: ContactUnitOfWork,
    env: ContactEnvironment,
    case: CaseRow,
    permit: PermitRecord,
    command: c.RecordPermitOutcome,
) -> c.OutcomeAnswer:
    """Record the contact made on `permit` (the caller holds the debtor's lock)."""
    now = env.now()
    contacts = await uow.contacts.find(case.case_id, uow.tx) or CaseContacts.new(case.case_id)
    standing = contacts.permit_standing(permit.permit_id, now)
    if standing is PermitStanding.UNKNOWN:  # a permit of the read model the stream lacks: never made here
        raise PermitUnknown(f"permit {permit.permit_id} is not on case {case.case_id}")
    # A contact on an open permit took place within its time: counted from the permit's issue, where
    # its reservation stood. On a spent permit it is counted from now, the latest it can have been.
    contacted_at = permit.issued_at if standing is PermitStanding.OPEN else now
    proposed = ProposedContact(
        channel=permit.channel,
        party=permit.party,
        purpose=permit.purpose,
        contact_point=permit.contact_point,
        recording_ref=command.recording_ref,
        collector_id=permit.collector_id,
        agency_id=permit.agency_id,
    )
    if standing is PermitStanding.EXPIRED:
        contacts.expire_permit(permit.permit_id, case.debtor_id, now)
        await uow.close_permit(permit.permit_id, "expired")
    decision = permit_decision(permit, case, _SPENT_REASON.get(standing))
    event = attempt_event(
        case, proposed, command.attempt_id, decision, command.outcome, command.duration_seconds
    )
    assert isinstance(event, ContactAttempted)
    event = event.model_copy(update={"permit_id": permit.permit_id, "contacted_at": contacted_at})
    contacts.record_attempt(event, now)
    await uow.contacts.save(contacts, uow.tx, jurisdiction=case.jurisdiction)
    await uow.record_contact(
        contact_record(
            case,
            proposed,
            command.attempt_id,
            contacted_at,
            decision,
            outcome=command.outcome,
            duration_seconds=command.duration_seconds,
            permit_id=permit.permit_id,
        )
    )
    if standing is PermitStanding.OPEN:
        await uow.close_permit(permit.permit_id, "used", command.attempt_id, now)
        await uow.cancel_timer(PERMIT_EXPIRY, permit.permit_id)
    return c.OutcomeAnswer(command.attempt_id, permit.permit_id, standing, True, contacted_at)


_SPENT_REASON = {
    PermitStanding.USED: "recorded on a permit used before",
    PermitStanding.EXPIRED: "recorded on an expired permit",
}


async def record_permit_outcome(
    command: c.RecordPermitOutcome, uow: ContactUnitOfWork, env: ContactEnvironment
) -> c.OutcomeAnswer:
    found = await uow.find_permit(command.permit_id)
    if found is None:
        raise PermitUnknown(f"no permit {command.permit_id}")
    if command.principal is not None:
        case = await case_locked(uow, found.case_id, command.principal)
    else:
        case = await _case_of(uow, found.case_id)
    permit = await uow.find_permit(command.permit_id)  # read again under the lock
    assert permit is not None
    earlier = await uow.find_contact(command.attempt_id)
    if earlier is not None:
        if earlier.get("permit_id") != permit.permit_id:
            raise AttemptIdTaken(f"attempt id {command.attempt_id} is recorded for another contact")
        standing = (
            PermitStanding.OPEN
            if permit.attempt_id == command.attempt_id
            else PermitStanding.USED
            if permit.status == "used"
            else PermitStanding.EXPIRED
        )
        return c.OutcomeAnswer(command.attempt_id, permit.permit_id, standing, False, earlier["at"])
    return await use_permit(uow, env, case, permit, command)


async def _case_of(uow: ContactUnitOfWork, case_id: str) -> CaseRow:
    case = await uow.case(case_id)
    if case is None:
        raise CaseUnknown(f"case {case_id} is not known to the contact service")
    await uow.lock_debtor(case.debtor_id)
    again = await uow.case(case_id)
    assert again is not None
    return again


async def expire_permit(command: c.ExpirePermit, uow: ContactUnitOfWork, env: ContactEnvironment) -> bool:
    """Release an unused permit; False when it was used or released before."""
    permit = await uow.find_permit(command.permit_id)
    if permit is None or permit.status != "issued":
        return False
    case = await _case_of(uow, permit.case_id)
    permit = await uow.find_permit(command.permit_id)
    if permit is None or permit.status != "issued":
        return False
    contacts = await uow.contacts.find(case.case_id, uow.tx) or CaseContacts.new(case.case_id)
    if contacts.expire_permit(permit.permit_id, case.debtor_id, env.now()):
        await uow.contacts.save(contacts, uow.tx, jurisdiction=case.jurisdiction)
    await uow.close_permit(permit.permit_id, "expired")
    return True


def reported_attempt_id(source: str, report_id: str) -> str:
    """The attempt id of a reported contact: one per (source, report id), whatever the redelivery."""
    digest = hashlib.sha256(f"{source}\x00{report_id}".encode()).hexdigest()[:24]
    return f"ext-{digest}"


async def record_reported_contact(
    command: c.RecordReportedContact, uow: ContactUnitOfWork, env: ContactEnvironment
) -> str:
    """Record a contact reported on integration.contacts (idempotent by source and report id); answers
    its attempt id. Recorded whatever the gate would have said: it took place."""
    report = command.report
    attempt_id = reported_attempt_id(report.source, report.report_id)
    known = await uow.case(command.case_id)
    if known is None:  # the placement has not reached us yet: kept, and recorded when it does
        await uow.park_report(attempt_id, command.case_id, report.model_dump(mode="json"), env.now())
        return attempt_id
    case = await _case_of(uow, command.case_id)
    if await uow.find_contact(attempt_id) is not None:
        return attempt_id
    proposed = ProposedContact(
        channel=report.channel,
        party=report.party,
        purpose=report.purpose or ContactPurpose.COLLECTION,
        contact_point=report.contact_point,
        recording_ref=report.recording_ref,
        collector_id=report.collector_id,
        agency_id=report.agency_id,
    )
    at = report.contacted_at
    judged = await gate_decision(uow, case, proposed, at)
    decision = judged
    if not judged.allowed:  # recorded as it took place; the refusal it would have met is kept beside it
        decision = judged.model_copy(
            update={
                "verdict": Verdict.ALLOW,
                "reason": f"reported by {report.source}; the gate would have refused: {judged.reason}",
            }
        )
    event = attempt_event(case, proposed, attempt_id, decision, report.outcome, report.duration_seconds)
    assert isinstance(event, ContactAttempted)
    event = event.model_copy(update={"reported_by": report.source, "contacted_at": at})
    await record(uow, env, case, [event])
    await uow.record_contact(
        contact_record(
            case,
            proposed,
            attempt_id,
            at,
            decision,
            outcome=report.outcome,
            duration_seconds=report.duration_seconds,
            source=report.source,
        )
    )
    uow.after_commit(lambda: count_decision(case, judged, "reported"))
    return attempt_id


async def record_parked_reports(
    uow: ContactUnitOfWork, env: ContactEnvironment, case_ids: Sequence[str]
) -> None:
    """The contacts reported before their cases were known, recorded now that they are."""
    for case_id, report in await uow.take_parked_reports(case_ids):
        parked = c.RecordReportedContact(case_id, ContactReported.model_validate(report))
        await record_reported_contact(parked, uow, env)


async def record_message(command: c.RecordMessage, uow: ContactUnitOfWork, env: ContactEnvironment) -> bool:
    """The message row; with a status report, `MessageDeliveryReported` (once per message and status)."""
    message = command.message
    if command.outcome is not None:
        await record_permit_outcome(command.outcome, uow, env)
    await uow.record_message(message)
    if command.notice is not None:
        case = await uow.case(message.case_id)
        if case is not None:
            contacts = await uow.contacts.find(case.case_id, uow.tx) or CaseContacts.new(case.case_id)
            notice = command.notice
            if isinstance(notice, VerificationSent):
                if contacts.send_verification(notice, env.now()):
                    # the gate lets collection resume from this moment, with the fold the audit uses
                    facts = apply_payload(case.facts, notice, case.case_id, env.now()) or case.facts
                    await uow.update_case(case.case_id, {"facts": facts})
            else:
                contacts.record_validation_notice(notice, env.now())
            await uow.contacts.save(contacts, uow.tx, jurisdiction=case.jurisdiction)
    if command.report is None:
        return True
    case = await uow.case(message.case_id)
    if case is None:
        return False
    contacts = await uow.contacts.find(case.case_id, uow.tx) or CaseContacts.new(case.case_id)
    event = MessageDeliveryReported(
        attempt_id=message.attempt_id,
        permit_id=message.permit_id,
        channel=message.channel,
        status=command.report,
        provider_reference=message.provider_reference,
        detail=message.detail,
    )
    if not contacts.record_delivery(event, env.now()):
        return False
    await uow.contacts.save(contacts, uow.tx, jurisdiction=case.jurisdiction)
    return True


async def record_attempt(
    command: c.RecordAttempt, uow: ContactUnitOfWork, env: ContactEnvironment
) -> c.AttemptAnswer:
    """The one-shot for channels with no separate dial step: the permit and the contact's outcome in
    one unit of work (`ContactPermitIssued` then `ContactAttempted`), or `ContactBlocked` when refused,
    with the contact row; both commit. Idempotent by attempt id. The caller raises the refusal
    (`AttemptAnswer.raise_if_refused`) after the bus has returned."""
    case = await case_locked(uow, command.case_id, command.principal)
    existing = await uow.find_contact(command.attempt_id)
    if existing is not None:
        return c.AttemptAnswer(command.attempt_id, stored_decision(existing, case), created=False)
    now = env.now()
    proposed = command.proposed
    history = await history_for(uow, case, proposed, now)
    decision = await staff_checked(uow, case, proposed, decide_case(case.facts, history, proposed, now), now)
    uow.after_commit(lambda: count_decision(case, decision, "attempt"))
    if not decision.allowed:
        await record(uow, env, case, [attempt_event(case, proposed, command.attempt_id, decision)])
        await uow.record_contact(contact_record(case, proposed, command.attempt_id, now, decision))
        return c.AttemptAnswer(command.attempt_id, decision, created=True)
    permit = await issue(uow, env, case, proposed, new_permit_id(), decision, now, history)
    outcome = c.RecordPermitOutcome(
        command.principal,
        permit.permit_id,
        command.attempt_id,
        command.outcome,
        command.duration_seconds,
        proposed.recording_ref,
    )
    await use_permit(uow, env, case, permit, outcome)
    return c.AttemptAnswer(command.attempt_id, decision, created=True)


PERMIT_HANDLERS: dict[type, Handler[ContactUnitOfWork, ContactEnvironment]] = {
    c.RecordAttempt: record_attempt,
    c.IssuePermit: issue_permit,
    c.RecordPermitOutcome: record_permit_outcome,
    c.ExpirePermit: expire_permit,
    c.RecordReportedContact: record_reported_contact,
    c.RecordMessage: record_message,
}
