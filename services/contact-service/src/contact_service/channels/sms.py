"""The SMS channel: one HTTP gateway shape (the local gateway `dcp_devstack.smsgateway` speaks it, and so
does the provider adapter a deployment points SMS_GATEWAY_URL at):

- send: ``POST {url}/v1/messages`` with ``Authorization: Bearer {key}`` and
  ``{"to", "from", "body", "client_reference", "status_callback"}`` → ``202 {"id", "status", "segments"}``;
  the same client_reference again answers the same id (nothing sent twice);
- receipts: the gateway POSTs ``{"id", "client_reference", "status": "delivered" | "failed",
  "error_code"}`` to ``status_callback`` (``/channels/sms/receipts`` here);
- inbound: the gateway POSTs ``{"id", "from", "to", "body", "received_at"}`` to
  ``/channels/sms/inbound`` here (STOP, 退订 ... become opt-outs);
- every webhook carries ``X-Gateway-Signature``: hex HMAC-SHA256 of the raw body with the API key,
  checked before anything is read (`signature_valid`).
"""

from __future__ import annotations

import hashlib
import hmac

import httpx

from contact_service.channels.base import OutboundMessage, Sent
from contact_service.domain.errors import ChannelUnavailable
from dcp_events.catalogue.enums import Channel

RECEIPTS_PATH = "/channels/sms/receipts"
INBOUND_PATH = "/channels/sms/inbound"


def signature_valid(api_key: str, body: bytes, signature: str | None) -> bool:
    expected = hmac.new(api_key.encode(), body, hashlib.sha256).hexdigest()
    return signature is not None and hmac.compare_digest(expected, signature.strip().lower())


class HttpSmsGateway:
    channel = Channel.SMS

    def __init__(self, url: str, api_key: str, sender: str, public_url: str, timeout: float = 10.0) -> None:
        self._url = url.rstrip("/")
        self._key = api_key
        self._sender = sender
        self._callback = public_url.rstrip("/") + RECEIPTS_PATH
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"HttpSmsGateway(url={self._url!r})"  # never the key

    async def send(self, message: OutboundMessage) -> Sent:
        body = {
            "to": message.to,
            "from": self._sender,
            "body": message.text,
            "client_reference": message.attempt_id,
            "status_callback": self._callback,
        }
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(
                    f"{self._url}/v1/messages", json=body, headers={"Authorization": f"Bearer {self._key}"}
                )
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(f"the SMS gateway could not be reached: {type(exc).__name__}") from exc
        if response.status_code not in (200, 201, 202):
            raise ChannelUnavailable(
                f"the SMS gateway answered {response.status_code}: {response.text[:200]}"
            )
        reference = str(response.json()["id"])
        return Sent(reference, hashlib.sha256(message.text.encode()).hexdigest())
