"""One interface for every channel that sends: a message made on a permit goes out through its adapter,
which answers the provider's reference (or raises `ChannelUnavailable`: nothing was sent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from contact_service.application.ports import PermitRecord
from dcp_events.catalogue.contacts import DeliveryStatus
from dcp_events.catalogue.enums import Channel


@dataclass(frozen=True)
class OutboundMessage:
    """What one permit sends: to its contact point, the rendered content."""

    permit: PermitRecord
    attempt_id: str
    to: str
    subject: str
    text: str
    html: str | None = None
    template: str | None = None
    opt_out_url: str | None = None
    attachments: tuple[tuple[str, str, bytes], ...] = field(default=())  # (file name, MIME type, bytes)
    letter: object | None = None  # the rendered letter (letters only)


@dataclass(frozen=True)
class Sent:
    provider_reference: str
    content_sha256: str
    status: DeliveryStatus | None = None  # what the channel already tells at hand-over (None: nothing yet)
    detail: str | None = None


class ChannelAdapter(Protocol):
    channel: Channel

    async def send(self, message: OutboundMessage) -> Sent:
        """Hand the message to the channel; `ChannelUnavailable` when it could not take it."""
        ...
