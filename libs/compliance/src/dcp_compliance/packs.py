"""Rule packs: versioned YAML data files (`dcp_compliance/packs/<JURISDICTION>-<version>.yaml`).

Each rule has an `id`, a plain-language `description`, its `citation`, a `kind` (which check of the
gate applies it) and `parameters` (every number of the rule, validated per kind). A pack refuses to
load when a hold type is covered by none of its hold rules, so every hold blocks in every pack.

`load_pack("US")` is the newest pack of a jurisdiction (or the newest effective at `at=`, or an
exact `version=`, which is how the audit-service re-checks an event with the pack that decided it).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dcp_events import CloudEvent
from dcp_events.catalogue.building import parse_data
from dcp_events.catalogue.contacts import ContactPurpose
from dcp_events.catalogue.enums import (
    Channel,
    ContactOutcome,
    ContactParty,
    HoldType,
    PhoneKind,
    VulnerabilityType,
)
from dcp_events.catalogue.policies import PolicyActivated

__all__ = [
    "CallCap",
    "CaseMustBeOpen",
    "ConsentRequired",
    "ConversationCoolDown",
    "HoldBlocks",
    "HoldException",
    "KnownTimeZone",
    "LocationException",
    "OptOutBlocks",
    "PackError",
    "PolicyOnly",
    "PromiseHorizon",
    "QuietHours",
    "RecordingRequired",
    "Rule",
    "RulePack",
    "ThirdPartyBan",
    "TimeBarred",
    "UnknownJurisdiction",
    "UnknownPackVersion",
    "ValidationPeriod",
    "VulnerabilityContactCap",
    "VulnerabilityTreatment",
    "WorkplaceBan",
    "available_packs",
    "load_pack",
    "load_pack_file",
]

ALL_CHANNELS = frozenset(Channel)


class PackError(Exception):
    """A rule pack file is malformed or inconsistent."""


class UnknownJurisdiction(LookupError):
    """No rule pack exists for the jurisdiction: the gate refuses every contact there."""

    def __init__(self, jurisdiction: str) -> None:
        super().__init__(f"no compliance rule pack for jurisdiction {jurisdiction!r}")
        self.jurisdiction = jurisdiction


class UnknownPackVersion(LookupError):
    def __init__(self, jurisdiction: str, version: str) -> None:
        super().__init__(f"no rule pack {version!r} for jurisdiction {jurisdiction!r}")
        self.jurisdiction = jurisdiction
        self.version = version


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KnownTimeZone(_Params):
    """Refuse when the debtor's time zone is not a known IANA zone."""

    kind: Literal["time_zone"] = "time_zone"


class CaseMustBeOpen(_Params):
    """Refuse contact about a closed case."""

    kind: Literal["case_open"] = "case_open"


class QuietHours(_Params):
    """Contact only between `start` and `end` (both inclusive) local time at the debtor.

    `debtor_windows`: how the debtor's preferred windows apply: `restrict` (only inside them, within
    the pack hours), `override` (the debtor's windows replace the pack hours) or `ignore`.
    """

    kind: Literal["quiet_hours"] = "quiet_hours"
    start: time
    end: time
    channels: frozenset[Channel] = ALL_CHANNELS
    debtor_windows: Literal["restrict", "override", "ignore"] = "restrict"

    @model_validator(mode="after")
    def _ordered(self) -> QuietHours:
        if self.start >= self.end:
            raise ValueError("quiet hours: start must be before end")
        return self


class CallCap(_Params):
    """At most `max_contacts` counted contacts within `window_days` consecutive local calendar days
    (the proposed contact's day and the days before it); per debt (`scope: debt`) or per debtor across
    all the debtor's cases, the institution and all its agencies (`scope: debtor`)."""

    kind: Literal["call_cap"] = "call_cap"
    max_contacts: int = Field(ge=1)
    window_days: int = Field(ge=1)
    channels: frozenset[Channel]
    parties: frozenset[ContactParty] = frozenset({ContactParty.DEBTOR})
    counted_outcomes: frozenset[ContactOutcome] | None = Field(
        default=None, description="None: every attempt counts (placed calls); else only these outcomes."
    )
    scope: Literal["debt", "debtor"]


class ConversationCoolDown(_Params):
    """No contact on `channels` within `days` days after a conversation; its day counts as day 1."""

    kind: Literal["conversation_cool_down"] = "conversation_cool_down"
    days: int = Field(ge=1)
    channels: frozenset[Channel]
    conversation_outcomes: frozenset[ContactOutcome]
    scope: Literal["debt", "debtor"] = "debt"


class HoldException(_Params):
    channels: frozenset[Channel]
    purposes: frozenset[ContactPurpose]


class HoldBlocks(_Params):
    """Holds of `hold_types` block all contact except the listed (channel, purpose) exceptions."""

    kind: Literal["hold"] = "hold"
    hold_types: frozenset[HoldType] = Field(min_length=1)
    default_duration_days: int | None = Field(
        default=None, ge=1, description="Length of a hold recorded without an expiry; None: until released."
    )
    exceptions: tuple[HoldException, ...] = ()
    freezes_charges: bool = Field(
        default=False,
        description="While such a hold lasts, no interest, fee or cost may be added to the debt "
        "(a moratorium: GB breathing space, a bankruptcy stay).",
    )


class OptOutBlocks(_Params):
    """A debtor's opt-out of a channel (or of one contact point on it) blocks it."""

    kind: Literal["opt_out"] = "opt_out"
    channels: frozenset[Channel] = ALL_CHANNELS


class ConsentRequired(_Params):
    """Contact the debtor on `channels` only at a contact point of theirs with consent for the channel."""

    kind: Literal["consent"] = "consent"
    channels: frozenset[Channel]


class WorkplaceBan(_Params):
    """When the employer prohibits it: no calls to `phone_kinds` numbers, no field visits at work."""

    kind: Literal["workplace"] = "workplace"
    phone_kinds: frozenset[PhoneKind] = frozenset({PhoneKind.WORK})


class LocationException(_Params):
    """The narrow exception to the third-party ban: asking where the debtor can be reached."""

    purposes: frozenset[ContactPurpose] = frozenset({ContactPurpose.LOCATION_INFORMATION})
    channels: frozenset[Channel]
    max_contacts_per_person: int | None = Field(default=None, ge=1)
    requires_agreed_contact: bool = False
    requires_debtor_unreachable: bool = False
    unreachable_days: int = Field(default=30, ge=1)
    min_failed_attempts: int = Field(default=3, ge=1)


class ThirdPartyBan(_Params):
    """Contacting anyone but the debtor is refused, except under `location_exception` (never disclosing)."""

    kind: Literal["third_party"] = "third_party"
    location_exception: LocationException | None = None


class RecordingRequired(_Params):
    """Contacts on `channels` need a recording reference (audio and video, kept `retention_years`)."""

    kind: Literal["recording"] = "recording"
    channels: frozenset[Channel]
    retention_years: int = Field(ge=1)


class TimeBarred(_Params):
    """No contact for `purposes` once the debt is time-barred: from the case's own limitation date
    (`CaseFacts.time_barred_at`, set from the jurisdiction's limitation rule) when known, else once the
    debt is older than `limitation_years` from `due_since` (None: no flat period, the rule waits for the
    case's date). `extinguished_only`: the rule applies only where expiry extinguishes the debt."""

    kind: Literal["time_barred"] = "time_barred"
    limitation_years: int | None = Field(default=None, ge=1)
    purposes: frozenset[ContactPurpose] = frozenset({ContactPurpose.LEGAL_NOTICE})
    extinguished_only: bool = False


class PromiseHorizon(_Params):
    """A promise to pay is due at most `max_days` after the day it is made (debtor's local date)."""

    kind: Literal["promise_horizon"] = "promise_horizon"
    max_days: int = Field(ge=1)


class ValidationPeriod(_Params):
    """The validation period after the validation information is provided, and what a dispute calls
    for inside it and outside it. Not a contact rule: the contact service dates the period and
    classifies each dispute with it (`dcp_compliance.validation`); the holds it places are blocked by
    the pack's hold rules."""

    kind: Literal["validation_period"] = "validation_period"
    days_after_receipt: int = Field(ge=1, description="The period ends this many days after receipt.")
    assumed_receipt_business_days: int = Field(
        ge=0, description="Receipt assumed this many business days after the information is provided."
    )
    holiday_calendar: str = Field(
        pattern=r"^[A-Z]{2}$", description="Public holidays of this country are not business days."
    )
    written_via: frozenset[Channel] = Field(
        description="Channels a dispute arrives on in writing (electronic communications included)."
    )
    timely_written_dispute_hold: HoldType = Field(
        description="A dispute in writing within the period: collection stops until verification is sent."
    )
    other_dispute_hold: HoldType | None = Field(
        description="A dispute outside the period or not in writing: the hold the institution places "
        "(None: recorded, no hold)."
    )


class VulnerabilityContactCap(_Params):
    """At most `max_contacts` contacts with the debtor on `channels` within `window_days` local days,
    counted across all the debtor's cases (a lower cap than the pack's own while the flag lasts)."""

    max_contacts: int = Field(ge=1)
    window_days: int = Field(ge=1)
    channels: frozenset[Channel] = ALL_CHANNELS


class VulnerabilityTreatment(_Params):
    """How an active vulnerability flag of `vulnerability_types` changes the treatment of the debtor:
    channels not to use, a lower contact cap, a breathing period after the flag is placed (no contact
    except the listed exceptions, like a hold's), and the specialist team the case is referred to."""

    kind: Literal["vulnerability"] = "vulnerability"
    vulnerability_types: frozenset[VulnerabilityType] = Field(min_length=1)
    avoid_channels: frozenset[Channel] = frozenset()
    contact_cap: VulnerabilityContactCap | None = None
    breathing_days: int | None = Field(default=None, ge=1)
    breathing_exceptions: tuple[HoldException, ...] = ()
    refer_to_team: str | None = Field(default=None, min_length=1)
    review_days: int | None = Field(
        default=None,
        ge=1,
        description="Review the flag this many days after it is placed, when no date is given.",
    )


class PolicyOnly(_Params):
    """A rule of the pack that no contact decision applies (e.g. KPI design); kept for the record."""

    kind: Literal["policy"] = "policy"
    applies_to: str
    settings: dict[str, Any] = Field(default_factory=dict)


RuleParams = Annotated[
    KnownTimeZone
    | CaseMustBeOpen
    | QuietHours
    | CallCap
    | ConversationCoolDown
    | HoldBlocks
    | OptOutBlocks
    | ConsentRequired
    | WorkplaceBan
    | ThirdPartyBan
    | RecordingRequired
    | TimeBarred
    | PromiseHorizon
    | ValidationPeriod
    | VulnerabilityTreatment
    | PolicyOnly,
    Field(discriminator="kind"),
]


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Z]{2}-[A-Z0-9-]+$")
    description: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    parameters: RuleParams

    @property
    def kind(self) -> str:
        return self.parameters.kind


class RulePack(BaseModel):
    """One version of one jurisdiction's rules; the order of `rules` is the order the gate checks them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    version: str = Field(pattern=r"^[0-9]+(\.[0-9]+)*$")
    jurisdiction: str = Field(pattern=r"^[A-Z]{2}$")
    title: str
    effective_from: date
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> RulePack:
        ids = [r.id for r in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError("rule ids repeat")
        for rule in self.rules:
            if not rule.id.startswith(self.jurisdiction + "-"):
                raise ValueError(f"rule {rule.id} does not carry the pack's jurisdiction prefix")
        covered = {
            t for r in self.rules if isinstance(r.parameters, HoldBlocks) for t in r.parameters.hold_types
        }
        missing = set(HoldType) - covered
        if missing:
            raise ValueError(f"hold types blocked by no rule: {sorted(missing)}")
        kinds = {r.kind for r in self.rules}
        for needed in ("time_zone", "quiet_hours", "opt_out", "third_party", "case_open"):
            if needed not in kinds:
                raise ValueError(f"the pack has no {needed} rule")
        return self

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def lookback(self) -> timedelta:
        """How far back the counting rules look: history older than now minus this never matters
        (apart from third-party contacts, which `max_contacts_per_person` counts over all time)."""
        days = 1
        for rule in self.rules:
            p = rule.parameters
            if isinstance(p, CallCap):
                days = max(days, p.window_days)
            elif isinstance(p, ConversationCoolDown):
                days = max(days, p.days)
            elif isinstance(p, VulnerabilityTreatment) and p.contact_cap is not None:
                days = max(days, p.contact_cap.window_days)
            elif (
                isinstance(p, ThirdPartyBan)
                and p.location_exception is not None
                and p.location_exception.requires_debtor_unreachable
            ):
                days = max(days, p.location_exception.unreachable_days)
        # Local calendar days: one more day covers any UTC offset.
        return timedelta(days=days + 1)


_FILE_NAME = re.compile(r"^(?P<jurisdiction>[A-Z]{2})-(?P<version>[0-9]+(\.[0-9]+)*)\.yaml$")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def load_pack_file(path: Path | str) -> RulePack:
    """Parse and validate one pack file, named `<JURISDICTION>-<version>.yaml` after its content."""
    path = Path(path)
    return _parse(path.name, path.read_text(encoding="utf-8"))


def _parse(name: str, text: str) -> RulePack:
    match = _FILE_NAME.match(name)
    if match is None:
        raise PackError(f"{name}: a pack file is named <JURISDICTION>-<version>.yaml")
    try:
        raw = yaml.safe_load(text)
        pack = RulePack.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise PackError(f"{name}: {exc}") from exc
    if (pack.jurisdiction, pack.version) != (match["jurisdiction"], match["version"]):
        raise PackError(
            f"{name}: the file name does not match jurisdiction {pack.jurisdiction} {pack.version}"
        )
    return pack


@functools.cache
def _bundled() -> dict[str, list[RulePack]]:
    packs: dict[str, list[RulePack]] = {}
    folder = resources.files("dcp_compliance") / "packs"
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            pack = _parse(entry.name, entry.read_text(encoding="utf-8"))
            packs.setdefault(pack.jurisdiction, []).append(pack)
    for versions in packs.values():
        versions.sort(key=lambda p: _version_key(p.version))
    return packs


# Packs activated at runtime (PolicyActivated on collections.policies), per jurisdiction in the order
# of their activation, and every version so learnt: a service folds them in as they arrive, and the
# pack in force at a time is the last one activated by then (the bundled packs before the first).
_ACTIVATED: dict[str, list[tuple[datetime, RulePack]]] = {}
_LEARNT: dict[str, dict[str, RulePack]] = {}


def pack_from_document(document: object) -> RulePack:
    """A pack from its document (the parsed YAML or JSON), validated; PackError says what is wrong."""
    try:
        return RulePack.model_validate(document)
    except ValidationError as exc:
        raise PackError(str(exc)) from exc


def activate_pack(pack: RulePack, at: datetime) -> None:
    """`pack` is in force for its jurisdiction from `at` (idempotent: the same version activated at
    the same time again changes nothing)."""
    history = _ACTIVATED.setdefault(pack.jurisdiction, [])
    if (at, pack) in history:
        return
    known = _LEARNT.setdefault(pack.jurisdiction, {})
    if pack.version in known and known[pack.version] != pack:
        raise PackError(f"{pack.jurisdiction} {pack.version}: another pack of that version is known")
    if any(p.version == pack.version for p in _bundled().get(pack.jurisdiction, ())) and not any(
        p == pack for p in _bundled()[pack.jurisdiction]
    ):
        raise PackError(f"{pack.jurisdiction} {pack.version}: a bundled pack has that version")
    known[pack.version] = pack
    history.append((at, pack))
    history.sort(key=lambda entry: entry[0])


def bundled_pack(jurisdiction: str) -> RulePack:
    """The newest pack the library ships for `jurisdiction` (what is in force before any activation)."""
    versions = _bundled().get(jurisdiction)
    if not versions:
        raise UnknownJurisdiction(jurisdiction)
    return versions[-1]


def forget_activations() -> None:
    """Back to the bundled packs only (a test's clean slate)."""
    _ACTIVATED.clear()
    _LEARNT.clear()


def available_packs() -> list[tuple[str, str]]:
    """(jurisdiction, version) of every pack known: bundled, and activated at runtime."""
    bundled = {(j, p.version) for j, versions in _bundled().items() for p in versions}
    learnt = {(j, v) for j, versions in _LEARNT.items() for v in versions}
    return sorted(bundled | learnt)


def load_pack(jurisdiction: str, *, version: str | None = None, at: datetime | None = None) -> RulePack:
    """The pack for `jurisdiction`: exactly `version`, else the one in force at `at` (the last activated
    by then; before any activation the newest bundled pack effective on `at`'s UTC date), the one in
    force now when `at` is None. Raises UnknownJurisdiction / UnknownPackVersion."""
    versions = _bundled().get(jurisdiction, [])
    activated = _ACTIVATED.get(jurisdiction, [])
    if not versions and not activated:
        raise UnknownJurisdiction(jurisdiction)
    if version is not None:
        learnt = _LEARNT.get(jurisdiction, {}).get(version)
        if learnt is not None:
            return learnt
        for pack in versions:
            if pack.version == version:
                return pack
        raise UnknownPackVersion(jurisdiction, version)
    in_force = [p for when, p in activated if at is None or when <= at]
    if in_force:
        return in_force[-1]
    if at is not None:
        effective = [p for p in versions if p.effective_from <= at.date()]
        if not effective:
            raise UnknownPackVersion(jurisdiction, f"effective on {at.date().isoformat()}")
        return effective[-1]
    if not versions:
        raise UnknownPackVersion(jurisdiction, "in force before its first activation")
    return versions[-1]


def charges_freeze(
    jurisdiction: str, hold_types: Iterable[HoldType], at: datetime | None = None
) -> Rule | None:
    """The rule of the jurisdiction's pack in force at `at` that freezes interest and charges under one
    of `hold_types` (None: nothing freezes them, or no pack for the jurisdiction)."""
    held = set(hold_types)
    if not held:
        return None
    try:
        pack = load_pack(jurisdiction, at=at)
    except UnknownJurisdiction:
        return None
    for rule in pack.rules:
        params = rule.parameters
        if isinstance(params, HoldBlocks) and params.freezes_charges and params.hold_types & held:
            return rule
    return None


def vulnerability_treatment(
    jurisdiction: str, vulnerability_type: VulnerabilityType, at: datetime | None = None
) -> Rule | None:
    """The rule of the jurisdiction's pack in force at `at` that treats flags of `vulnerability_type`
    (None: the pack has none, or no pack for the jurisdiction)."""
    try:
        pack = load_pack(jurisdiction, at=at)
    except (UnknownJurisdiction, UnknownPackVersion):
        return None
    for rule in pack.rules:
        params = rule.parameters
        if isinstance(params, VulnerabilityTreatment) and vulnerability_type in params.vulnerability_types:
            return rule
    return None


RULE_PACK_POLICY_PREFIX = "rule-pack-"
"""A jurisdiction's rule pack as a policy: `rule-pack-US`, `rule-pack-GB`, `rule-pack-CN`."""


def activation_of(event: CloudEvent) -> RulePack | None:
    """The rule pack a `PolicyActivated` event puts in force (None: another policy, another event)."""
    if not event.type.startswith("collections.policy.activated."):
        return None
    payload = parse_data(event)
    if not isinstance(payload, PolicyActivated) or not payload.name.startswith(RULE_PACK_POLICY_PREFIX):
        return None
    return pack_from_document(json.loads(payload.document))


def follow_pack_activations(event: CloudEvent) -> None:
    """For a service's follower of collections.policies: each activated pack in force from its time."""
    pack = activation_of(event)
    if pack is not None:
        activate_pack(pack, event.time)
