"""The channels really deliver: an e-mail goes through SMTP to the stack's mailbox with its opt-out
text, an opt-out reply blocks the next e-mail; an SMS goes through the stack's HTTP gateway, its
receipt comes back, a STOP reply blocks SMS; a letter is rendered to PDF with its hash and batched into
a print file. The service listens on a real port here, so the gateway's callbacks reach it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import io
import os
import socket
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import uvicorn
from pypdf import PdfReader

from contact_service.adapters.unit_of_work_contract import case_opened
from contact_service.main import MIGRATIONS, ContactServiceSettings, create_app
from dcp_devstack import testing
from dcp_devstack.mailbox import wait_for_messages_async
from dcp_devstack.smsgateway import read_sms
from dcp_devstack.stack import StackEndpoints
from dcp_events.catalogue import Assignee, CaseAssigned, CaseBalanceChanged, Money
from dcp_events.catalogue.base import MoneyDelta
from dcp_events.catalogue.enums import AssigneeKind, BalanceChangeReason
from dcp_platform.auth import Role

from .conftest import START, ContactService, eventually, token

pytestmark = pytest.mark.integration

NY = "America/New_York"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Outlets:
    mailbox: Path
    sms: Path
    gateway_url: str
    gateway_key: str
    letters: Path


@pytest.fixture(scope="module")
def outlets(stack: StackEndpoints, tmp_path_factory: pytest.TempPathFactory) -> Outlets:
    env = {**stack.service_env(), **os.environ}
    mailbox = stack.mailbox_dir or env.get("DCP_MAILBOX_DIR", "")
    sms = stack.sms_dir or env.get("DCP_SMS_DIR", "")
    if not mailbox or not sms:
        pytest.skip("the stack names an outside SMTP server or SMS gateway: nothing local to read")
    return Outlets(
        Path(mailbox),
        Path(sms),
        stack.sms_gateway_url or env["SMS_GATEWAY_URL"],
        stack.sms_gateway_api_key or env["SMS_GATEWAY_API_KEY"],
        tmp_path_factory.mktemp("letters"),
    )


@pytest.fixture(scope="module")
async def sender(
    database_server_url: str, kafka_bootstrap: str, stack: StackEndpoints, outlets: Outlets
) -> AsyncIterator[ContactService]:
    """The contact service with its channels pointed at the stack's mailbox and gateway, served on a
    port of its own (lifespan run once, by service_under_test)."""
    port = _free_port()
    env = {**stack.service_env(), **os.environ}
    settings = functools.partial(
        ContactServiceSettings,
        clock_mode="manual",
        clock_fixed_at=START,
        smtp_host=env.get("SMTP_HOST", "127.0.0.1"),
        smtp_port=int(env.get("SMTP_PORT", stack.smtp_port)),
        smtp_starttls=False,
        sms_gateway_url=outlets.gateway_url,
        sms_gateway_api_key=outlets.gateway_key,
        contact_public_url=f"http://127.0.0.1:{port}",
        contact_letters_dir=outlets.letters,
    )
    async with testing.service_under_test(
        create_app,
        settings,
        MIGRATIONS,
        database_server_url=database_server_url,
        kafka_bootstrap=kafka_bootstrap,
        base_url=f"http://127.0.0.1:{port}",
    ) as running:
        server = uvicorn.Server(
            uvicorn.Config(running.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        try:
            yield ContactService(
                running.client,
                running.app.state.clock,
                running.topic_prefix,
                kafka_bootstrap,
                running.database_url,
                running.producer,
            )
        finally:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await serving


def _of_permit(permit_id: str):  # type: ignore[no-untyped-def]
    return lambda mail: mail.message.get("X-DCP-Permit") == permit_id


async def test_an_email_goes_through_smtp_with_its_opt_out_and_a_stop_reply_blocks_the_next(
    sender: ContactService, outlets: Outlets
) -> None:
    sender.next_local(NY, 11)
    case_id = await sender.open_case("US")
    r = await sender.client.post("/messages", json={"case_id": case_id, "channel": "email"}, headers=token())
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["status"] == "delivered" and sent["permit_id"]
    [mail] = await wait_for_messages_async(outlets.mailbox, 1, match=_of_permit(sent["permit_id"]))
    assert mail.envelope_to == ("pat@example.org",)
    text = mail.text()
    assert "reply to this message with the word STOP" in text  # Regulation F 1006.6(e)
    assert "/channels/opt-out/" in text and "/channels/opt-out/" in str(mail.message["List-Unsubscribe"])
    assert "$2,500.00" in text

    reply = EmailMessage()
    reply["From"] = "Pat Doe <pat@example.org>"
    reply["To"] = str(mail.message["From"])
    reply["Subject"] = "Re: " + mail.subject
    reply["In-Reply-To"] = str(mail.message["Message-ID"])
    reply.set_content("STOP\n\n> earlier message")
    inbound = await sender.client.post(
        "/channels/email/inbound",
        content=reply.as_bytes(),
        headers={**token(Role.DIALER, "mail-relay"), "Content-Type": "message/rfc822"},
    )
    assert inbound.status_code == 200, inbound.text
    assert inbound.json()["action"] == "opted_out" and case_id in inbound.json()["cases"]
    again = await sender.client.post(
        "/messages", json={"case_id": case_id, "channel": "email"}, headers=token()
    )
    assert again.status_code == 409, again.text
    assert again.json()["rule_id"].endswith("OPTOUT")
    messages = (await sender.client.get(f"/cases/{case_id}/messages", headers=token())).json()["messages"]
    assert [m["channel"] for m in messages] == ["email"]  # the refused one was never sent


async def test_the_opt_out_link_in_an_email_opts_out(sender: ContactService, outlets: Outlets) -> None:
    sender.next_local(NY, 12)
    case_id = await sender.open_case("US")
    sent = (
        await sender.client.post("/messages", json={"case_id": case_id, "channel": "email"}, headers=token())
    ).json()
    [mail] = await wait_for_messages_async(outlets.mailbox, 1, match=_of_permit(sent["permit_id"]))
    link = next(w for w in mail.text().split() if "/channels/opt-out/" in w)
    path = link[link.index("/channels/") :]
    claims = path.rsplit("/", 1)[1].split(".")[0]
    assert b"pat@example.org" not in base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4))
    browser = {"Accept": "text/html"}
    page = await sender.client.get(path, headers=browser)
    assert page.status_code == 200 and "<form" in page.text
    tampered = await sender.client.post(path[:-3] + "abc", headers=browser)
    assert tampered.status_code == 404 and "not valid" in tampered.json()["detail"]
    done = await sender.client.post(path, headers=browser)
    assert done.status_code == 200 and "opted out" in done.text
    blocked = await sender.client.post(
        "/messages", json={"case_id": case_id, "channel": "email"}, headers=token()
    )
    assert blocked.status_code == 409


async def test_an_sms_goes_through_the_gateway_and_a_stop_reply_blocks_sms(
    sender: ContactService, outlets: Outlets
) -> None:
    sender.next_local(NY, 13)
    case_id = await sender.open_case("US")
    r = await sender.client.post("/messages", json={"case_id": case_id, "channel": "sms"}, headers=token())
    assert r.status_code == 201, r.text
    sent = r.json()
    [recorded] = [m for m in read_sms(outlets.sms) if m["client_reference"] == sent["attempt_id"]]
    assert recorded["to"] == "+12025550101" and "Reply STOP" in recorded["body"]

    async def delivered() -> bool:
        messages = (await sender.client.get(f"/cases/{case_id}/messages", headers=token())).json()["messages"]
        return messages[0]["status"] == "delivered"

    await eventually(delivered)  # the gateway's receipt, signed, reached /channels/sms/receipts
    forged = await sender.client.post(
        "/channels/sms/inbound",
        json={"from": "+12025550101", "body": "STOP"},
        headers={"X-Gateway-Signature": "00"},
    )
    assert forged.status_code == 403
    async with httpx.AsyncClient() as client:
        inbound = await client.post(
            f"{outlets.gateway_url}/v1/simulate/inbound",
            json={
                "from": "+12025550101",
                "to": "DCP",
                "body": "STOP",
                "webhook": f"{str(sender.client.base_url).rstrip('/')}/channels/sms/inbound",
            },
            headers={"Authorization": f"Bearer {outlets.gateway_key}"},
        )
    assert inbound.status_code == 202, inbound.text
    assert inbound.json()["webhook_status"] == 200
    again = await sender.client.post(
        "/messages", json={"case_id": case_id, "channel": "sms"}, headers=token()
    )
    assert again.status_code == 409 and again.json()["rule_id"].endswith("OPTOUT")
    phone = await sender.client.post(
        "/contact-checks", json={"case_id": case_id, "channel": "phone"}, headers=token()
    )
    assert phone.json()["verdict"] == "allow"  # STOP to texts stops texts, not calls


async def test_a_validation_notice_itemizes_interest_fees_and_a_payment_and_goes_into_a_print_file(
    sender: ContactService, outlets: Outlets
) -> None:
    sender.next_local(NY, 10)
    case_id = f"case-{uuid.uuid4().hex[:10]}"
    usd = "USD"
    opened = case_opened(case_id, "US", balance_minor=120_000)
    await sender.publish("collections.cases", case_id, opened, jurisdiction="US")
    for reason, delta, after in (
        (BalanceChangeReason.INTEREST, 3_525, 123_525),
        (BalanceChangeReason.FEE, 2_500, 126_025),
        (BalanceChangeReason.PAYMENT, -10_000, 116_025),
    ):
        change = CaseBalanceChanged(
            reason=reason,
            change=MoneyDelta(delta_minor=delta, currency=usd),
            balance_after=Money(amount_minor=after, currency=usd),
        )
        await sender.publish("collections.cases", case_id, change, jurisdiction="US")
    # Assigned last: once the service knows the assignment, the balance changes before it are folded.
    assigned = CaseAssigned(assignee=Assignee(kind=AssigneeKind.COLLECTOR, id="col-1"), reason="test")
    await sender.publish("collections.cases", case_id, assigned, jurisdiction="US")

    async def known() -> bool:
        r = await sender.client.get(f"/cases/{case_id}/contact-options", headers=token())
        return r.status_code == 200

    await eventually(known)
    r = await sender.client.post("/messages", json={"case_id": case_id, "channel": "letter"}, headers=token())
    assert r.status_code == 201, r.text
    sent = r.json()
    pdf = (outlets.letters / "pending" / f"{sent['attempt_id']}.pdf").read_bytes()
    assert hashlib.sha256(pdf).hexdigest() == sent["content_sha256"]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    # Owed at placement $1,200.00; since then interest $35.25, fees $25.00, paid $100.00: now $1,160.25.
    for figure in ("$1,200.00", "$35.25", "$25.00", "$100.00", "$1,160.25"):
        assert figure in text, figure
    assert "This is not my debt" in text and "Pat Doe" in text
    events = await sender.contact_events(case_id, expect=3)
    [notice] = [e.data for e in events if e.type == "collections.contact.validation_notice_sent.v1"]
    assert (notice["amount_at_itemization"]["amount_minor"], notice["interest"]["amount_minor"]) == (
        120_000,
        3_525,
    )
    assert (notice["fees"]["amount_minor"], notice["payments_and_credits"]["amount_minor"]) == (2_500, 10_000)
    assert notice["current_amount"]["amount_minor"] == 116_025
    assert notice["content_sha256"] == sent["content_sha256"] and notice["validation_period_end"]
    printed = await sender.client.post("/letters/print-files", headers=token(Role.SUPERVISOR, "sup-1"))
    assert printed.status_code == 201, printed.text
    with zipfile.ZipFile(printed.json()["file"]) as archive:
        assert f"{sent['attempt_id']}.pdf" in archive.namelist()
        assert sent["content_sha256"] in archive.read("manifest.csv").decode()
    messages = (await sender.client.get(f"/cases/{case_id}/messages", headers=token())).json()["messages"]
    assert messages[0]["status"] == "delivered"
    nothing = await sender.client.post("/letters/print-files", headers=token(Role.SUPERVISOR, "sup-1"))
    assert nothing.status_code == 409


async def _check(sender: ContactService, case_id: str, channel: str = "phone") -> dict[str, object]:
    r = await sender.client.post(
        "/contact-checks", json={"case_id": case_id, "channel": channel}, headers=token()
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def _dispute(sender: ContactService, case_id: str, via: str) -> dict[str, object]:
    request = {"case_id": case_id, "kind": "dispute", "received_via": via, "reason": "I never had this card"}
    assert (await sender.client.post("/debtor-requests", json=request, headers=token())).status_code == 201
    r = await sender.client.get(f"/cases/{case_id}/disputes", headers=token())
    assert r.status_code == 200, r.text
    listed: dict[str, object] = r.json()
    return listed


async def test_a_written_dispute_within_the_validation_period_stops_collection_until_verification_is_sent(
    sender: ContactService, outlets: Outlets
) -> None:
    """12 CFR 1006.34(b)(5), 1006.38(d)(2): the validation notice dates the period; a dispute in writing
    within it stops collection (the verification itself still goes out); verification lets it resume."""
    sender.next_local(NY, 10)
    case_id = await sender.open_case("US")
    notice = await sender.client.post(
        "/messages", json={"case_id": case_id, "channel": "letter"}, headers=token()
    )
    assert notice.status_code == 201, notice.text
    events = await sender.contact_events(case_id, expect=3)
    [sent_notice] = [e.data for e in events if e.type == "collections.contact.validation_notice_sent.v1"]

    listed = await _dispute(sender, case_id, "letter")
    assert listed["validation_period_end"] == sent_notice["validation_period_end"]
    [dispute] = listed["disputes"]  # type: ignore[misc]
    assert (dispute["status"], dispute["hold_type"], dispute["within_validation_period"]) == (
        "verification_pending",
        "verification_pending",
        True,
    )
    assert dispute["rule_id"] == "US-REGF-VALIDATION"
    refused = await _check(sender, case_id)
    assert (refused["verdict"], refused["rule_id"]) == ("deny", "US-REGF-VERIFY")
    collection_letter = await sender.client.post(
        "/messages", json={"case_id": case_id, "channel": "letter"}, headers=token()
    )
    assert collection_letter.status_code == 409 and collection_letter.json()["rule_id"] == "US-REGF-VERIFY"

    documents = [{"document_id": "doc-stmt-04", "kind": "statement", "description": "April 2026 statement"}]
    path = f"/cases/{case_id}/disputes/{dispute['dispute_id']}/verification"
    verified = await sender.client.post(
        path, json={"channel": "letter", "documents": documents}, headers=token()
    )
    assert verified.status_code == 201, verified.text
    sent = verified.json()
    pdf = (outlets.letters / "pending" / f"{sent['attempt_id']}.pdf").read_bytes()
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Verification of the debt you disputed" in text and "April 2026 statement" in text
    events = await sender.contact_events(case_id, expect=6, until="collections.contact.verification_sent.v1")
    [verification] = [e.data for e in events if e.type == "collections.contact.verification_sent.v1"]
    assert verification["dispute_id"] == dispute["dispute_id"]
    assert verification["content_sha256"] == sent["content_sha256"]
    assert verification["documents"][0]["document_id"] == "doc-stmt-04"
    assert (await _check(sender, case_id))["verdict"] == "allow"  # collection may resume
    after = (await sender.client.get(f"/cases/{case_id}/disputes", headers=token())).json()["disputes"]
    assert after[0]["status"] == "verified" and after[0]["verification_attempt_id"] == sent["attempt_id"]

    again = await sender.client.post(path, json={"channel": "letter"}, headers=token())
    assert again.status_code == 409 and again.json()["type"].endswith("/dispute-already-verified")
    unknown = await sender.client.post(
        f"/cases/{case_id}/disputes/dsp-nope/verification", json={}, headers=token()
    )
    assert unknown.status_code == 404 and unknown.json()["type"].endswith("/dispute-not-found")


async def test_an_oral_or_late_dispute_is_recorded_and_held_for_review_per_the_pack(
    sender: ContactService, outlets: Outlets
) -> None:
    sender.next_local(NY, 10)
    oral_case = await sender.open_case("US")
    notice = await sender.client.post(
        "/messages", json={"case_id": oral_case, "channel": "letter"}, headers=token()
    )
    assert notice.status_code == 201, notice.text
    [oral] = (await _dispute(sender, oral_case, "phone"))["disputes"]  # type: ignore[misc]
    assert (oral["status"], oral["hold_type"], oral["within_validation_period"]) == ("open", "dispute", True)
    assert (await _check(sender, oral_case))["rule_id"] == "US-REGF-DISPUTE"

    late_case = await sender.open_case("US")
    notice = await sender.client.post(
        "/messages", json={"case_id": late_case, "channel": "letter"}, headers=token()
    )
    assert notice.status_code == 201, notice.text
    sender.clock.set(sender.clock.now() + timedelta(days=60))
    sender.next_local(NY, 10)
    [late] = (await _dispute(sender, late_case, "letter"))["disputes"]  # type: ignore[misc]
    assert (late["status"], late["hold_type"], late["within_validation_period"]) == ("open", "dispute", False)
    assert (await _check(sender, late_case))["rule_id"] == "US-REGF-DISPUTE"
