"""Messages the platform sends itself (e-mail, SMS, letters), each on a permit: the gate decides and
reserves first, the channel's adapter hands the message over, the contact is recorded on its permit
with the message, and what the channel reports later (delivered, bounced, failed, opened) comes back
as `MessageDeliveryReported`. A debtor's opt-out (a STOP reply, the link in an e-mail) becomes a
`ChannelOptedOut` on each of their open cases at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from contact_service.application import commands as c
from contact_service.application.permits import new_permit_id
from contact_service.application.ports import (
    CaseRow,
    ContactBus,
    ContactEnvironment,
    MessageRecord,
    ReadModels,
)
from contact_service.application.queries import known_case
from contact_service.channels.base import ChannelAdapter, OutboundMessage
from contact_service.channels.content import (
    Collector,
    email_content,
    letter_context,
    sms_content,
    verification_email,
)
from contact_service.channels.letters import LetterContext, render_letter, template_for
from contact_service.domain.errors import ChannelUnavailable, DisputeAlreadyVerified, InvalidMessage
from dcp_compliance import ProposedContact
from dcp_compliance.permits import contact_point_digest
from dcp_events.catalogue.base import DocumentReference, Money
from dcp_events.catalogue.contacts import (
    ContactPurpose,
    DeliveryStatus,
    ValidationNoticeSent,
    VerificationSent,
)
from dcp_events.catalogue.enums import Channel, ContactOutcome
from dcp_platform.auth import Principal, Role

SYSTEM = Principal(subject="contact-service", role=Role.ADMIN)
"""Who acts on a debtor's own request arriving through a channel (a reply, a link): the service."""

SENDING_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.LETTER)

SENDING = "sending"
"""A message recorded before its hand-over; `sent` once the channel took it (then what it reports:
delivered, bounced, failed, opened, returned); `unsent` when the channel could not take it."""

# Replies that opt out of a channel: the carriers' standard keywords (CTIA), UNSUBSCRIBE, and the
# Chinese operators' 退订 / TD.
_OPT_OUT = re.compile(
    r"^\s*(stop|stopall|unsubscribe|cancel|end|quit|opt[- ]?out|退订|td|t)\b", re.IGNORECASE
)
_OPT_OUT_ZH = re.compile(r"退订|取消订阅")


def is_opt_out(text: str) -> bool:
    """Whether a reply (its first line, or a subject) asks to stop messages on that channel."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return bool(_OPT_OUT.match(first) or _OPT_OUT_ZH.search(first))


@dataclass(frozen=True)
class Channels:
    """The sending channels' adapters (a channel not configured is absent), who is collecting, and
    where this service's links point."""

    adapters: Mapping[Channel, ChannelAdapter]
    collector: Collector
    public_url: str

    def adapter(self, channel: Channel) -> ChannelAdapter:
        adapter = self.adapters.get(channel)
        if adapter is None:
            raise ChannelUnavailable(f"the {channel.value} channel is not configured here")
        return adapter


def default_point(case: CaseRow, channel: Channel) -> str | None:
    """Where a message goes when none is named: the debtor's first point for the channel that consented
    and did not opt out, else their first point for it at all (the gate then refuses it, naming why);
    letters go to the mailing address, not a contact point."""
    if channel is Channel.LETTER:
        return None
    opted = {o.contact_point for o in case.facts.opt_outs if o.channel is channel}
    usable = [p for p in case.facts.contact_points if channel in p.usable_for]
    for point in usable:
        if channel in point.consented and point.value not in opted:
            return point.value
    return usable[0].value if usable else None


def opt_out_url(
    env: ContactEnvironment, channels: Channels, case: CaseRow, channel: Channel, point: str | None
) -> str:
    """The signed opt-out link of one message: it names the case, the channel and the contact point's
    digest (never the address or number itself: a link travels through proxies and their logs)."""
    token = env.signer.sign_token(
        {
            "case_id": case.case_id,
            "channel": channel.value,
            "point_sha256": contact_point_digest(point),
            "n": uuid.uuid4().hex[:8],
        }
    )
    return f"{channels.public_url.rstrip('/')}/channels/opt-out/{token}"


async def point_of_link(reading: ReadModels, claims: Mapping[str, Any]) -> str | None:
    """The contact point an opt-out link names: the case's point with the link's digest."""
    async with reading() as reads:
        case = await reads.case(str(claims.get("case_id")))
    if case is None:
        return None
    for point in case.facts.contact_points:
        if contact_point_digest(point.value) == claims.get("point_sha256"):
            return point.value
    return None


async def send_message(
    bus: ContactBus,
    reading: ReadModels,
    env: ContactEnvironment,
    channels: Channels,
    principal: Principal,
    case_id: str,
    channel: Channel,
    *,
    contact_point: str | None = None,
    template: str | None = None,
    breathing_space: tuple[str, date] | None = None,
    verification: Verification | None = None,
) -> MessageRecord:
    """Permit, hand-over, record. Refused by the gate → `ContactRefused` (409, recorded as
    `ContactBlocked`); the channel down → `ChannelUnavailable` (503; the unused permit expires). With
    `verification`, the message is the verification of a dispute (purpose verification, which the
    dispute's hold lets through), recorded as `VerificationSent`."""
    if verification is not None and channel not in (Channel.LETTER, Channel.EMAIL):
        raise InvalidMessage("verification is sent by letter or e-mail")
    if channel not in SENDING_CHANNELS:
        raise InvalidMessage(f"the platform sends e-mail, SMS and letters, not {channel.value}")
    adapter = channels.adapter(channel)
    async with reading() as reads:
        case = await known_case(reads, case_id, principal)
    point = contact_point or default_point(case, channel)
    if channel is not Channel.LETTER and point is None:
        raise InvalidMessage(f"the debtor has no {channel.value} contact point")
    if channel is Channel.LETTER and not case.profile.get("address"):
        raise InvalidMessage("the case has no mailing address")
    collector_id = principal.subject if principal.role is Role.COLLECTOR else None
    purpose = ContactPurpose.VERIFICATION if verification is not None else ContactPurpose.COLLECTION
    proposed = ProposedContact(
        channel=channel,
        purpose=purpose,
        contact_point=point,
        collector_id=collector_id,
        agency_id=principal.agency_id,
    )
    if verification is not None:
        template = "verification"
    letter_template = None
    if channel is Channel.LETTER:
        try:
            letter_template = template_for(case.jurisdiction, template or _DEFAULT_LETTER[case.jurisdiction])
        except (LookupError, KeyError) as exc:
            raise InvalidMessage(f"no letter {template!r} for {case.jurisdiction}") from exc
    answer: c.PermitAnswer = await bus.handle(c.IssuePermit(principal, case_id, proposed, new_permit_id()))
    answer.raise_if_refused()
    permit = answer.permit
    assert permit is not None
    attempt_id = f"att-{permit.permit_id}"
    link = opt_out_url(env, channels, case, channel, point) if channel is not Channel.LETTER else None
    if channel is Channel.EMAIL and verification is not None:
        subject, text = verification_email(
            case, channels.collector, link or "", verification.received_on, verification.document_lines
        )
        outbound = OutboundMessage(
            permit, attempt_id, point or "", subject, text, template="verification-email", opt_out_url=link
        )
    elif channel is Channel.EMAIL:
        subject, text = email_content(case, channels.collector, link or "")
        outbound = OutboundMessage(
            permit, attempt_id, point or "", subject, text, template="collection-email", opt_out_url=link
        )
    elif channel is Channel.SMS:
        outbound = OutboundMessage(
            permit,
            attempt_id,
            point or "",
            "",
            sms_content(case, channels.collector),
            template="collection-sms",
        )
    else:
        assert letter_template is not None
        context = letter_context(case, channels.collector, env.now().date(), None, breathing_space)
        if verification is not None:
            context = replace(
                context,
                dispute_received_on=verification.received_on,
                verification_documents=verification.document_lines,
            )
        rendered = await asyncio.to_thread(render_letter, letter_template, context)
        outbound = OutboundMessage(
            permit,
            attempt_id,
            " | ".join(context.mailing_address),
            "",
            "",
            template=letter_template,
            letter=(context, rendered),
        )
    # Recorded before the hand-over, so that a report arriving before the answer (a fast receipt), or
    # after this process stopped, finds its message.
    sending = MessageRecord(
        attempt_id=attempt_id,
        permit_id=permit.permit_id,
        case_id=case_id,
        channel=channel,
        template=outbound.template,
        provider_reference=None,
        content_sha256=None,
        status=SENDING,
        detail=None,
        sent_at=env.now(),
        updated_at=env.now(),
    )
    await bus.handle(c.RecordMessage(sending))
    try:
        sent = await adapter.send(outbound)
    except ChannelUnavailable as exc:
        failed = MessageRecord(**{**sending.__dict__, "status": "unsent", "detail": str(exc)[:500]})
        await bus.handle(c.RecordMessage(failed))
        raise
    now = env.now()
    message = MessageRecord(
        attempt_id=attempt_id,
        permit_id=permit.permit_id,
        case_id=case_id,
        channel=channel,
        template=outbound.template,
        provider_reference=sent.provider_reference,
        content_sha256=sent.content_sha256,
        status=(sent.status.value if sent.status else "sent"),
        detail=sent.detail,
        sent_at=now,
        updated_at=now,
    )
    outcome = c.RecordPermitOutcome(None, permit.permit_id, attempt_id, ContactOutcome.MESSAGE_SENT)
    notice: ValidationNoticeSent | VerificationSent | None = None
    if letter_template == "us/validation_notice" and isinstance(outbound.letter, tuple):
        notice = validation_notice_sent(outbound.letter[0], attempt_id, permit.permit_id, sent.content_sha256)
    if verification is not None:
        notice = VerificationSent(
            dispute_id=verification.dispute_id,
            attempt_id=attempt_id,
            permit_id=permit.permit_id,
            channel=channel,
            template=outbound.template,
            current_amount=Money(amount_minor=max(case.balance_minor, 0), currency=case.currency),
            documents=list(verification.documents),
            content_sha256=sent.content_sha256 or hashlib.sha256(outbound.text.encode()).hexdigest(),
        )
    await bus.handle(c.RecordMessage(message, report=sent.status, outcome=outcome, notice=notice))
    return message


@dataclass(frozen=True)
class Verification:
    """The verification of one dispute to send: the dispute, the day it was received (the debtor's
    date) and the documents enclosed, by reference."""

    dispute_id: str
    received_on: date
    documents: tuple[DocumentReference, ...] = ()

    @property
    def document_lines(self) -> tuple[str, ...]:
        return tuple(
            f"{d.description or d.kind} ({d.document_id})" if d.description else f"{d.kind} ({d.document_id})"
            for d in self.documents
        )


async def send_verification(
    bus: ContactBus,
    reading: ReadModels,
    env: ContactEnvironment,
    channels: Channels,
    principal: Principal,
    case_id: str,
    dispute_id: str,
    channel: Channel,
    documents: tuple[DocumentReference, ...] = (),
) -> MessageRecord:
    """Send the verification of a dispute of the case (404: no such dispute; 409: verified before)."""
    dispute = await bus.handle(c.FindDispute(principal, case_id, dispute_id))
    if dispute.verified_at is not None:
        raise DisputeAlreadyVerified(
            f"dispute {dispute_id} was verified on {dispute.verified_at.date()} "
            f"({dispute.verification_attempt_id})"
        )
    received = dispute.raised_at.date() if dispute.raised_at is not None else env.now().date()
    return await send_message(
        bus,
        reading,
        env,
        channels,
        principal,
        case_id,
        channel,
        verification=Verification(dispute_id, received, documents),
    )


def validation_notice_sent(
    context: LetterContext, attempt_id: str, permit_id: str, content_sha256: str
) -> ValidationNoticeSent:
    """What a validation notice told the debtor (Regulation F 1006.34(c)): the itemization and the end
    of the validation period."""
    item = context.itemization
    assert item is not None and context.validation_period_end is not None

    def money(minor: int) -> Money:
        return Money(amount_minor=minor, currency=context.currency)

    return ValidationNoticeSent(
        attempt_id=attempt_id,
        permit_id=permit_id,
        template="us/validation_notice",
        itemization_date=item.itemization_date,
        amount_at_itemization=money(item.amount_at_itemization),
        interest=money(item.interest),
        fees=money(item.fees),
        payments_and_credits=money(item.paid_or_credited),
        current_amount=money(item.current_amount),
        validation_period_end=context.validation_period_end,
        content_sha256=content_sha256,
    )


_DEFAULT_LETTER = {"US": "validation_notice", "GB": "arrears_notice", "CN": "repayment_reminder"}


async def report_delivery(
    bus: ContactBus,
    reading: ReadModels,
    env: ContactEnvironment,
    channel: Channel,
    status: DeliveryStatus,
    detail: str | None = None,
    *,
    provider_reference: str | None = None,
    attempt_id: str | None = None,
) -> bool:
    """A channel's report on a message it took, found by the provider's reference or by its attempt id
    (the client reference a gateway echoes); False when no message of ours is either. A report on a
    message still `sending` (this service stopped between the hand-over and recording it) records the
    contact on its permit too: the channel says it took the message, so it was sent."""
    async with reading() as reads:
        message = await reads.find_message(channel, provider_reference) if provider_reference else None
        if message is None and attempt_id is not None:
            message = await reads.find_message_of_attempt(attempt_id)
    if message is None or message.channel is not channel:
        return False
    updated = MessageRecord(
        **{
            **message.__dict__,
            "status": status.value,
            "detail": detail,
            "provider_reference": message.provider_reference or provider_reference,
            "updated_at": env.now(),
        }
    )
    outcome = None
    if message.status == SENDING and message.permit_id is not None:
        outcome = c.RecordPermitOutcome(
            None, message.permit_id, message.attempt_id, ContactOutcome.MESSAGE_SENT
        )
    await bus.handle(c.RecordMessage(updated, report=status, outcome=outcome))
    return True


async def opt_out(
    bus: ContactBus, reading: ReadModels, channel: Channel, contact_point: str, case_id: str | None = None
) -> list[str]:
    """The debtor behind `contact_point` opted out of `channel` there: `ChannelOptedOut` on each of
    their open cases (one request per debtor). Answers the cases recorded on."""
    async with reading() as reads:
        cases = await reads.cases_reached_at(contact_point)
        if case_id is not None and not any(c_.case_id == case_id for c_ in cases):
            one = await reads.case(case_id)
            cases = [one] if one is not None else cases
    recorded: list[str] = []
    seen: set[str] = set()
    for case in cases:
        if case.debtor_id in seen:
            continue
        seen.add(case.debtor_id)
        request = c.RecordDebtorRequest(
            principal=SYSTEM,
            case_id=case.case_id,
            kind="channel_opt_out",
            received_via=channel,
            channel=channel,
            contact_point=contact_point,
        )
        recorded += await bus.handle(request)
    return recorded


def point_matches(point: str | None, claimed: str | None) -> bool:
    return contact_point_digest(point) == contact_point_digest(claimed)
