"""What comes back from the channels: the SMS gateway's receipts and inbound texts (authenticated by the
gateway's signature, no token), e-mail replies and bounces forwarded by the mail system, and the opt-out
link every collection e-mail carries (authenticated by its own signature)."""

from __future__ import annotations

import email
import email.policy
import html
import json
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import HTMLResponse

from contact_service.api import schemas
from contact_service.api.deps import ContactApiDep
from contact_service.application import messaging
from contact_service.channels.email import attempt_of_message_id
from contact_service.channels.sms import signature_valid
from dcp_events.catalogue.contacts import DeliveryStatus
from dcp_events.catalogue.enums import Channel
from dcp_platform.auth import Principal, Role, require_roles
from dcp_platform.context import bind_context
from dcp_platform.problems import BadRequest, Forbidden, NotFound, ServiceUnavailable

router = APIRouter(prefix="/channels", tags=["channels"])

MailRelay = Annotated[Principal, Depends(require_roles(Role.DIALER, Role.ADMIN))]
"""The mail system forwarding replies and bounces: an agency's machine channel, or an admin."""


def _as_service() -> Any:
    """A debtor's own request arriving through a channel is recorded by the service, for them."""
    return bind_context(actor_id="contact-service", actor_role="service")


async def _signed_body(request: Request, signature: str | None) -> dict[str, Any]:
    raw = await request.body()
    key = request.app.state.sms_gateway_key
    if not key or not signature_valid(key, raw, signature):
        raise Forbidden("the gateway's signature does not match")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BadRequest("the body is not JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body is not a JSON object")
    return body


@router.post("/sms/receipts", summary="SMS delivery receipts from the gateway (signed by it)")
async def sms_receipt(
    request: Request,
    api: ContactApiDep,
    x_gateway_signature: Annotated[str | None, Header()] = None,
) -> schemas.InboundHandled:
    body = await _signed_body(request, x_gateway_signature)
    status = {"delivered": DeliveryStatus.DELIVERED, "failed": DeliveryStatus.FAILED}.get(
        str(body.get("status"))
    )
    if status is None or not body.get("id"):
        raise BadRequest("a receipt has an id and a status of delivered or failed")
    detail = f"error {body['error_code']}" if body.get("error_code") else None
    reference = body.get("client_reference")
    with _as_service():
        found = await messaging.report_delivery(
            api.bus,
            api.read_models,
            api.env,
            Channel.SMS,
            status,
            detail,
            provider_reference=str(body["id"]),
            attempt_id=str(reference) if reference else None,
        )
    if not found:  # a receipt faster than the record of its message: the gateway sends it again
        raise ServiceUnavailable("no message of that reference is recorded yet; retry")
    return schemas.InboundHandled(action="delivery_reported")


@router.post("/sms/inbound", summary="Texts from debtors, from the gateway (STOP, 退订 ... opt out of SMS)")
async def sms_inbound(
    request: Request,
    api: ContactApiDep,
    x_gateway_signature: Annotated[str | None, Header()] = None,
) -> schemas.InboundHandled:
    body = await _signed_body(request, x_gateway_signature)
    sender, text = str(body.get("from") or ""), str(body.get("body") or "")
    if not sender:
        raise BadRequest("an inbound text has a sender (from)")
    if not messaging.is_opt_out(text):
        return schemas.InboundHandled(action="none")
    with _as_service():
        cases = await messaging.opt_out(api.bus, api.read_models, Channel.SMS, sender)
    return schemas.InboundHandled(action="opted_out" if cases else "none", cases=cases)


def _reply_text(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def _bounced_attempt(mail: EmailMessage) -> str | None:
    """The attempt a delivery status notification (RFC 3464) reports a failure of."""
    if mail.get_content_type() != "multipart/report":
        return None
    for part in mail.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else part
            found = attempt_of_message_id(str(getattr(inner, "get", lambda *_: "")("Message-ID", "")))
            if found:
                return found
    return attempt_of_message_id(str(mail.get("In-Reply-To", "")))


@router.post(
    "/email/inbound",
    summary="E-mail replies and bounces (raw RFC 5322 as message/rfc822); STOP or UNSUBSCRIBE opts out",
    openapi_extra={"requestBody": {"content": {"message/rfc822": {"schema": {"type": "string"}}}}},
)
async def email_inbound(request: Request, _relay: MailRelay, api: ContactApiDep) -> schemas.InboundHandled:
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("the body is the raw message (RFC 5322)")
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    bounced = _bounced_attempt(mail)
    if bounced is not None:
        with _as_service():
            found = await messaging.report_delivery(
                api.bus,
                api.read_models,
                api.env,
                Channel.EMAIL,
                DeliveryStatus.BOUNCED,
                str(mail.get("Subject", ""))[:200] or "bounced",
                attempt_id=bounced,
            )
        return schemas.InboundHandled(action="delivery_reported" if found else "none")
    sender = parseaddr(str(mail.get("From", "")))[1]
    if not sender:
        raise BadRequest("the message has no sender")
    asks = messaging.is_opt_out(str(mail.get("Subject", ""))) or messaging.is_opt_out(_reply_text(mail))
    if not asks:
        return schemas.InboundHandled(action="none")
    attempt = attempt_of_message_id(str(mail.get("In-Reply-To", "")))
    case_id = None
    if attempt is not None:
        async with api.reading() as reads:
            row = await reads.find_contact(attempt)
        case_id = row["case_id"] if row is not None else None
    with _as_service():
        cases = await messaging.opt_out(api.bus, api.read_models, Channel.EMAIL, sender, case_id)
    return schemas.InboundHandled(action="opted_out" if cases else "none", cases=cases)


_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body><main><h1>{title}</h1><p>{text}</p>{form}</main></body></html>"""


def _page(title: str, text: str, form: str = "", status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(lang="en", title=html.escape(title), text=html.escape(text), form=form),
        status_code=status,
    )


def _claims(api: Any, token: str) -> dict[str, Any] | None:
    claims: dict[str, Any] | None = api.env.signer.read_token(token)
    if claims is None or claims.get("channel") not in (Channel.EMAIL.value, Channel.SMS.value):
        return None
    return claims


@router.get(
    "/opt-out/{token}",
    summary="The opt-out page an e-mail links to (confirm with one click)",
    response_class=HTMLResponse,
    responses={404: {"description": "Not a link of ours (problem+json)"}},
)
async def opt_out_page(token: str, api: ContactApiDep) -> HTMLResponse:
    claims = _claims(api, token)
    if claims is None:
        raise NotFound("This opt-out link is not valid. Reply STOP to the message instead.")
    what = "e-mails" if claims["channel"] == "email" else "text messages"
    form = f'<form method="post"><button type="submit">Stop {what} to this address</button></form>'
    return _page("Stop these messages", f"Confirm that you no longer want {what} about this debt.", form)


@router.post(
    "/opt-out/{token}",
    summary="Opt out (one click, RFC 8058): ChannelOptedOut on the debtor's cases",
    response_class=HTMLResponse,
    responses={404: {"description": "Not a link of ours (problem+json)"}},
)
async def opt_out(token: str, api: ContactApiDep) -> HTMLResponse:
    claims = _claims(api, token)
    point = await messaging.point_of_link(api.read_models, claims) if claims is not None else None
    if claims is None or point is None:
        raise NotFound("This opt-out link is not valid. Reply STOP to the message instead.")
    channel = Channel(claims["channel"])
    with _as_service():
        await messaging.opt_out(api.bus, api.read_models, channel, point, str(claims["case_id"]))
    what = "e-mails" if channel is Channel.EMAIL else "text messages"
    return _page("You are opted out", f"We will not send {what} to this address again.")
