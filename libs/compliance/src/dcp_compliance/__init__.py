"""The contact compliance rules: per-jurisdiction rule packs and the pure decision function of the gate.

Used by the contact-service (before every contact) and by the audit-service (re-checking the event
stream with the same rules). Nothing here does I/O or reads a clock.

Rule packs (`dcp_compliance.packs`)
    Versioned YAML files in `dcp_compliance/packs/` (`US-2026.1.yaml`: Regulation F; `GB-2026.1.yaml`:
    FCA CONC 7 and breathing space; `CN-2026.1.yaml`: NIFA). Each rule has `id`, `description`,
    `citation` and `parameters` (with the `kind` of check). `load_pack("US")` gives the newest pack,
    `load_pack("US", version="2026.1")` an exact one, `load_pack("US", at=when)` the one in force then;
    an unknown jurisdiction raises `UnknownJurisdiction`. `pack.lookback()` is how much history matters.

Limitation periods (`dcp_compliance.limitation`)
    `limitation_periods/limitation-2026.1.yaml`: per jurisdiction (US by state, GB by nation, CN) and
    debt type the period, its restarts, revival, whether expiry extinguishes the debt, and the
    disclosure a state requires on time-barred debt, each cited. `time_barred_at(jurisdiction,
    region, product, due_since, restart_events)` gives the date (None: cannot be known) with its basis.

Inputs (`dcp_compliance.model`, immutable pydantic models)
    `CaseFacts` (jurisdiction, IANA time zone and its source, status, holds, contact points with
    consents, opt-outs, preferred windows, workplace ban, agreed contacts, due date, the case's
    time-bar date and whether expiry extinguishes the debt);
    `ContactHistoryEntry` (a contact that took place: when, channel, party, outcome, collector, agency);
    `ProposedContact` (channel, party, purpose, contact point, recording ref, ...).

Decisions (`dcp_compliance.gate`)
    `decide(pack, facts, history, proposed, now) -> Decision`: `verdict` allow or deny; a denial has
    `rule_id`, `citation`, `reason` and `next_allowed_at` (None: not until something changes), and every
    decision names `pack_id`, `pack_version`, the time zone and its source, and the rules checked.
    `decide_case(...)` picks the case's pack and turns an unknown jurisdiction into a refusal.
    `channel_options(...)` decides every channel (worklists); `check_promise(...)` a promise's due date.

From the event stream (`dcp_compliance.stream`)
    `apply_event(facts, cloud_event)` / `facts_from_events(events)` build `CaseFacts` from
    `collections.cases` and `collections.contacts` events; `history_entry(event)` turns a
    `ContactAttempted` into a history entry; `ComplianceReplay().apply(event)` re-decides each recorded
    attempt from the stream alone (the audit-service's independent check).

Example::

    pack = load_pack("US")
    decision = decide(pack, facts, history, ProposedContact(channel=Channel.PHONE), now)
    if not decision.allowed:
        print(decision.rule_id, decision.citation, decision.reason, decision.next_allowed_at)
"""

from dcp_compliance.gate import (
    GATE_POLICY_ID,
    GATE_POLICY_VERSION,
    UNKNOWN_JURISDICTION_RULE,
    channel_options,
    check_promise,
    decide,
    decide_case,
    refuse_unknown_jurisdiction,
)
from dcp_compliance.model import (
    CaseFacts,
    CaseStatus,
    Channel,
    ContactHistoryEntry,
    ContactOutcome,
    ContactParty,
    ContactPoint,
    ContactPurpose,
    Decision,
    Hold,
    HoldType,
    LocalWindow,
    OptOut,
    ProposedContact,
    TimeZoneSource,
    Verdict,
    VulnerabilityFlag,
    Weekday,
)
from dcp_compliance.packs import (
    RULE_PACK_POLICY_PREFIX,
    PackError,
    Rule,
    RulePack,
    UnknownJurisdiction,
    UnknownPackVersion,
    activate_pack,
    activation_of,
    available_packs,
    bundled_pack,
    charges_freeze,
    follow_pack_activations,
    forget_activations,
    load_pack,
    load_pack_file,
    pack_from_document,
    vulnerability_treatment,
)
from dcp_compliance.stream import (
    ComplianceReplay,
    apply_event,
    apply_payload,
    contact_points,
    facts_from_events,
    history_entry,
    proposed_from_attempt,
)

__all__ = [
    "GATE_POLICY_ID",
    "GATE_POLICY_VERSION",
    "RULE_PACK_POLICY_PREFIX",
    "UNKNOWN_JURISDICTION_RULE",
    "CaseFacts",
    "CaseStatus",
    "Channel",
    "ComplianceReplay",
    "ContactHistoryEntry",
    "ContactOutcome",
    "ContactParty",
    "ContactPoint",
    "ContactPurpose",
    "Decision",
    "Hold",
    "HoldType",
    "LocalWindow",
    "OptOut",
    "PackError",
    "ProposedContact",
    "Rule",
    "RulePack",
    "TimeZoneSource",
    "UnknownJurisdiction",
    "UnknownPackVersion",
    "Verdict",
    "VulnerabilityFlag",
    "Weekday",
    "activate_pack",
    "activation_of",
    "apply_event",
    "apply_payload",
    "available_packs",
    "bundled_pack",
    "channel_options",
    "charges_freeze",
    "check_promise",
    "contact_points",
    "decide",
    "decide_case",
    "facts_from_events",
    "follow_pack_activations",
    "forget_activations",
    "history_entry",
    "load_pack",
    "load_pack_file",
    "pack_from_document",
    "proposed_from_attempt",
    "refuse_unknown_jurisdiction",
    "vulnerability_treatment",
]
