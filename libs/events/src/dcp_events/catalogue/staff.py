"""The staff directory (collectors and agencies), published by case-service on collections.staff: who
may be given cases and may contact debtors, in which jurisdictions, languages and channels."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, StrictBool

from dcp_events.catalogue.base import Count, EventPayload, Id, IsoDate, Jurisdiction, PayloadModel
from dcp_events.catalogue.enums import AssigneeKind, Channel

TOPIC = "collections.staff"


class StaffEvent(EventPayload):
    topic: ClassVar[str] = TOPIC


class StaffQualification(PayloadModel):
    """What a collector or an agency is qualified for: debtors of these jurisdictions speaking these
    languages, in person over these channels (phone, field visits; messages are sent by the platform),
    until `expires_on` (a licence or a training that lapses)."""

    jurisdictions: list[Jurisdiction] = Field(min_length=1)
    languages: list[Id] = Field(min_length=1)
    channels: list[Channel] = Field(default_factory=list)
    expires_on: IsoDate | None = None


class StaffMemberChanged(StaffEvent):
    """A collector or an agency joined the directory or changed (team, capacity, presence,
    qualifications). The whole entry as it now stands: a consumer keeps the latest (subject: the id)."""

    event_type: ClassVar[str] = "collections.staff.member_changed"
    version: ClassVar[int] = 1

    kind: AssigneeKind
    staff_id: Id
    team: Id | None = None
    capacity: Count
    active: StrictBool
    qualifications: list[StaffQualification] = Field(default_factory=list, max_length=50)
