"""The gate's time-bar rules use the case's own limitation date when the case-service has dated it,
fall back to the pack's flat period otherwise, and block all collection where expiry extinguishes."""

from __future__ import annotations

from datetime import date
from typing import Any

from dcp_compliance import Channel, ContactPurpose, Decision, ProposedContact, decide, load_pack
from dcp_compliance.stream import apply_payload
from dcp_events.catalogue import cases

from .helpers import ZONES, facts, local

_LETTER = ProposedContact(channel=Channel.LETTER, purpose=ContactPurpose.LEGAL_NOTICE)
_COLLECT = ProposedContact(channel=Channel.LETTER, purpose=ContactPurpose.COLLECTION)


def _decide(jurisdiction: str, proposed: ProposedContact, when: str, **overrides: Any) -> Decision:
    case = facts(jurisdiction, **overrides)
    return decide(load_pack(jurisdiction), case, [], proposed, local(ZONES[jurisdiction], when))


def test_us_case_date_replaces_the_flat_six_years_12_cfr_1006_26_b() -> None:
    """12 CFR 1006.26(b): no threat of suit once time-barred; New York's three years (CPLR 213-a) bar the
    legal notice although the flat six years have not run."""
    dated = {
        "due_since": date(2022, 1, 10),
        "time_barred_at": date(2025, 1, 10),
        "limitation_rule_id": "US-NY-LIM-OPEN-ENDED",
    }
    refused = _decide("US", _LETTER, "2025-01-10 12:00", **dated)
    assert not refused.allowed
    assert refused.rule_id == "US-REGF-TIMEBAR"
    assert "US-NY-LIM-OPEN-ENDED" in (refused.reason or "")
    assert _decide("US", _LETTER, "2025-01-09 12:00", **dated).allowed
    assert _decide("US", _COLLECT, "2025-06-01 12:00", **dated).allowed  # collection itself stays allowed


def test_us_without_a_case_date_the_flat_period_applies() -> None:
    flat = {"due_since": date(2019, 1, 10)}
    assert _decide("US", _LETTER, "2025-01-09 12:00", **flat).allowed
    assert _decide("US", _LETTER, "2025-01-10 12:00", **flat).rule_id == "US-REGF-TIMEBAR"


def test_gb_conc_7_15_4_no_threat_of_court_action_on_statute_barred_debt() -> None:
    """CONC 7.15.4R: no threat of court action on a statute-barred debt (Limitation Act 1980 s.5)."""
    dated = {"due_since": date(2019, 11, 20), "time_barred_at": date(2025, 11, 20)}
    refused = _decide("GB", _LETTER, "2025-11-20 12:00", **dated)
    assert refused.rule_id == "GB-CONC-TIMEBAR"
    assert _decide("GB", _COLLECT, "2025-11-20 12:00", **dated).allowed  # the debt still exists
    assert _decide("GB", _LETTER, "2025-11-19 12:00", **dated).allowed
    # no flat period in the GB pack: without the case's date, nothing is assumed
    assert _decide("GB", _LETTER, "2040-01-01 12:00", due_since=date(2019, 11, 20)).allowed


def test_scotland_1973_act_s6_prescribed_debt_blocks_all_collection() -> None:
    """Prescription and Limitation (Scotland) Act 1973 s.6(1): the obligation is extinguished; no
    collection contact at all, only telling the customer collection ends."""
    dated = {
        "due_since": date(2020, 6, 30),
        "time_barred_at": date(2025, 6, 30),
        "limitation_extinguishes": True,
    }
    refused = _decide("GB", _COLLECT, "2025-06-30 12:00", **dated)
    assert refused.rule_id == "GB-LIM-SCOT-PRESCRIBED"
    assert "extinguished" in (refused.reason or "")
    phone_call = ProposedContact(channel=Channel.PHONE)
    assert _decide("GB", phone_call, "2025-07-01 12:00", **dated).rule_id == "GB-LIM-SCOT-PRESCRIBED"
    ending = ProposedContact(channel=Channel.LETTER, purpose=ContactPurpose.TERMINATION_NOTICE)
    assert _decide("GB", ending, "2025-07-01 12:00", **dated).allowed
    assert _decide("GB", _COLLECT, "2025-06-29 12:00", **dated).allowed


def test_cn_civil_code_art_192_no_legal_notice_after_expiry_voluntary_payment_may_be_asked() -> None:
    """Civil Code art. 192: after expiry the obligor may refuse performance; asking for voluntary
    payment stays allowed, a notice of legal action does not."""
    dated = {"due_since": date(2022, 3, 1), "time_barred_at": date(2025, 3, 1)}
    assert _decide("CN", _LETTER, "2025-03-01 12:00", **dated).rule_id == "CN-LIM-TIMEBAR"
    assert _decide("CN", _COLLECT, "2025-03-01 12:00", **dated).allowed


def test_the_stream_folds_the_case_limitation_date_into_the_facts() -> None:
    """The audit replay and the contact-service build the same facts from CaseLimitationDated."""
    before = facts("GB")
    event = cases.CaseLimitationDated(
        time_barred_at=date(2025, 6, 30),
        rule_id="GB-SCT-LIM-OPEN-ENDED",
        citation="Prescription and Limitation (Scotland) Act 1973 s.6",
        starts_on=date(2020, 6, 30),
        extinguishes=True,
        reason="Scotland: 5 years",
    )
    after = apply_payload(before, event, "case-1", local("Europe/London", "2025-01-01 12:00"))
    assert after is not None
    assert after.time_barred_at == date(2025, 6, 30)
    assert after.limitation_extinguishes
    assert after.limitation_rule_id == "GB-SCT-LIM-OPEN-ENDED"
