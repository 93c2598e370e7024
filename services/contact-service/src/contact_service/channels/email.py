"""The e-mail channel: SMTP with aiosmtplib (host, port, STARTTLS or implicit TLS, credentials from
settings). Each message names its attempt in its Message-ID, so a reply or bounce finds its case, and
carries the opt-out instructions in its text and as List-Unsubscribe headers (RFC 2369, one-click
RFC 8058)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from contact_service.channels.base import OutboundMessage, Sent
from contact_service.domain.errors import ChannelUnavailable
from dcp_events.catalogue.contacts import DeliveryStatus
from dcp_events.catalogue.enums import Channel

MESSAGE_ID_DOMAIN = "contacts.dcp"


def message_id(attempt_id: str) -> str:
    return f"<{attempt_id}@{MESSAGE_ID_DOMAIN}>"


def attempt_of_message_id(value: str | None) -> str | None:
    """The attempt id a Message-ID (In-Reply-To, References) of ours names."""
    for token in (value or "").split():
        token = token.strip("<>")
        if token.endswith("@" + MESSAGE_ID_DOMAIN):
            return token.removesuffix("@" + MESSAGE_ID_DOMAIN)
    return None


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    starttls: bool
    use_tls: bool
    username: str | None
    password: str | None
    timeout: float
    sender: str


class SmtpEmail:
    channel = Channel.EMAIL

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def __repr__(self) -> str:
        return f"SmtpEmail(host={self._settings.host!r}, port={self._settings.port})"  # never the password

    async def send(self, message: OutboundMessage) -> Sent:
        return await self.send_mail(self.build(message))

    def build(self, message: OutboundMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._settings.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Message-ID"] = message_id(message.attempt_id)
        mail["Date"] = format_datetime(message.permit.issued_at)
        if message.opt_out_url:
            mail["List-Unsubscribe"] = (
                f"<mailto:{self._settings.sender}?subject=STOP>, <{message.opt_out_url}>"
            )
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail["X-DCP-Permit"] = message.permit.permit_id
        mail.set_content(message.text)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        for name, mime, data in message.attachments:
            main, _, sub = mime.partition("/")
            mail.add_attachment(data, maintype=main, subtype=sub, filename=name)
        return mail

    async def send_mail(self, mail: EmailMessage) -> Sent:
        s = self._settings
        try:
            _errors, response = await aiosmtplib.send(
                mail,
                hostname=s.host,
                port=s.port,
                start_tls=s.starttls and not s.use_tls,
                use_tls=s.use_tls,
                username=s.username,
                password=s.password,
                timeout=s.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ChannelUnavailable(
                f"the SMTP server {s.host}:{s.port} did not take the e-mail: {exc}"
            ) from exc
        body = mail.as_bytes()
        reference = str(mail["Message-ID"]).strip("<>")
        return Sent(
            reference,
            hashlib.sha256(body).hexdigest(),
            DeliveryStatus.DELIVERED,
            f"accepted by {s.host}: {response}"[:500],
        )
