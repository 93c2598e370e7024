"""Holds, opt-outs, consent, third parties, workplace, recording, time zones and jurisdictions, from
the rule text of each pack (COMPLIANCE.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dcp_compliance import (
    CaseStatus,
    Channel,
    ContactOutcome,
    ContactParty,
    ContactPurpose,
    Hold,
    HoldType,
    OptOut,
    PackError,
    ProposedContact,
    UnknownJurisdiction,
    Verdict,
    available_packs,
    channel_options,
    check_promise,
    decide,
    decide_case,
    load_pack,
    load_pack_file,
)
from dcp_events.catalogue.enums import PhoneKind

from .helpers import EMAIL, MOBILE, WORK, ZONES, email, entry, facts, local, phone, run, utc

NOON = {j: local(z, "2026-06-10 12:00") for j, z in ZONES.items()}

HOLD_RULES = {
    "US": {
        HoldType.DISPUTE: "US-REGF-DISPUTE",
        HoldType.CEASE_COMMUNICATION: "US-REGF-CEASE",
        HoldType.ATTORNEY: "US-REGF-ATTORNEY",
        HoldType.BANKRUPTCY: "US-HOLD-BANKRUPTCY",
        HoldType.DECEASED: "US-HOLD-OTHER",
        HoldType.COMPLAINT: "US-HOLD-OTHER",
        HoldType.DEBT_ADVICE: "US-HOLD-OTHER",
        HoldType.BREATHING_SPACE: "US-HOLD-OTHER",
        HoldType.MENTAL_HEALTH_CRISIS: "US-HOLD-OTHER",
    },
    "GB": {
        HoldType.BREATHING_SPACE: "GB-BS-STANDARD",
        HoldType.MENTAL_HEALTH_CRISIS: "GB-BS-MH",
        HoldType.DISPUTE: "GB-CONC-DISPUTE",
        HoldType.DEBT_ADVICE: "GB-CONC-ADVICE",
        HoldType.CEASE_COMMUNICATION: "GB-HOLD-OTHER",
        HoldType.BANKRUPTCY: "GB-HOLD-OTHER",
        HoldType.DECEASED: "GB-HOLD-OTHER",
        HoldType.ATTORNEY: "GB-HOLD-OTHER",
        HoldType.COMPLAINT: "GB-HOLD-OTHER",
    },
    "CN": dict.fromkeys(HoldType, "CN-NIFA-HOLD"),
}
DEFAULT_LENGTH = {("GB", HoldType.BREATHING_SPACE), ("GB", HoldType.DEBT_ADVICE)}
HOLD_CASES = [(j, t, rule) for j, rules in HOLD_RULES.items() for t, rule in rules.items()]


def hold(
    hold_type: HoldType, placed: str = "2026-06-01 00:00", expires: str | None = None, **kw: object
) -> Hold:
    return Hold(
        hold_id=f"h-{hold_type.value}",
        hold_type=hold_type,
        placed_at=utc(placed),
        expires_at=utc(expires) if expires else None,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("jurisdiction", "hold_type", "rule_id"), HOLD_CASES, ids=[f"{j}-{t.value}" for j, t, _ in HOLD_CASES]
)
def test_every_hold_blocks_every_channel_in_every_pack(
    jurisdiction: str, hold_type: HoldType, rule_id: str
) -> None:
    case = facts(jurisdiction, holds=(hold(hold_type),))
    for channel in Channel:
        decision = run(jurisdiction, NOON[jurisdiction], case=case, channel=channel, recording_ref="rec-1")
        assert decision.verdict is Verdict.DENY, (channel, decision)
        assert decision.rule_id == rule_id
        assert decision.citation == load_pack(jurisdiction).rule(rule_id).citation
        if (jurisdiction, hold_type) in DEFAULT_LENGTH:  # no expiry recorded: the statutory length
            assert decision.next_allowed_at is not None
        else:
            assert decision.next_allowed_at is None  # until released
    released = facts(jurisdiction, holds=())
    assert run(jurisdiction, NOON[jurisdiction], case=released).allowed


def test_hold_with_an_expiry_names_it_as_the_next_time_within_contact_hours() -> None:
    case = facts("US", holds=(hold(HoldType.DISPUTE, expires="2026-06-20 16:00"),))
    assert run("US", NOON["US"], case=case).next_allowed_at == utc("2026-06-20 16:00")
    late = facts("US", holds=(hold(HoldType.DISPUTE, expires="2026-06-21 03:00"),))  # 23:00 New York
    assert run("US", NOON["US"], case=late).next_allowed_at == local("America/New_York", "2026-06-21 08:00")
    assert run("US", utc("2026-06-21 13:00"), case=late).allowed


def test_gb_breathing_space_lasts_60_days_and_debt_advice_30_without_an_expiry() -> None:
    placed = "2026-06-01 09:00"
    case = facts("GB", holds=(hold(HoldType.BREATHING_SPACE, placed),))
    decision = run("GB", NOON["GB"], case=case)
    assert decision.rule_id == "GB-BS-STANDARD"
    assert decision.next_allowed_at == utc(placed) + timedelta(days=60)
    assert run("GB", utc(placed) + timedelta(days=60), case=case).allowed
    advice = facts("GB", holds=(hold(HoldType.DEBT_ADVICE, placed),))
    assert run("GB", NOON["GB"], case=advice).next_allowed_at == utc(placed) + timedelta(days=30)


def test_us_hold_exceptions_are_narrow() -> None:
    cease = facts("US", holds=(hold(HoldType.CEASE_COMMUNICATION),))
    now = NOON["US"]
    assert run(
        "US", now, case=cease, channel=Channel.LETTER, purpose=ContactPurpose.TERMINATION_NOTICE
    ).allowed
    assert not run(
        "US", now, case=cease, channel=Channel.PHONE, purpose=ContactPurpose.TERMINATION_NOTICE
    ).allowed
    assert not run("US", now, case=cease, channel=Channel.LETTER).allowed
    dispute = facts("US", holds=(hold(HoldType.DISPUTE),))
    assert run("US", now, case=dispute, channel=Channel.LETTER, purpose=ContactPurpose.VERIFICATION).allowed
    assert run("US", now, case=dispute, channel=Channel.LETTER).rule_id == "US-REGF-DISPUTE"
    gb = facts("GB", holds=(hold(HoldType.CEASE_COMMUNICATION),))
    assert not run(
        "GB", NOON["GB"], case=gb, channel=Channel.LETTER, purpose=ContactPurpose.TERMINATION_NOTICE
    ).allowed


def test_a_debtor_request_blocks_until_the_case_service_holds_it() -> None:
    pending = facts("US", holds=(hold(HoldType.CEASE_COMMUNICATION, pending=True),))
    decision = run("US", NOON["US"], case=pending)
    assert decision.rule_id == "US-REGF-CEASE"
    assert "request" in (decision.reason or "")


def test_whole_channel_opt_out_blocks_only_that_channel() -> None:
    case = facts("US", opt_outs=(OptOut(channel=Channel.SMS, at=utc("2026-06-01 00:00")),))
    assert run("US", NOON["US"], case=case, channel=Channel.SMS).rule_id == "US-REGF-OPTOUT"
    assert run("US", NOON["US"], case=case, channel=Channel.SMS).next_allowed_at is None
    assert run("US", NOON["US"], case=case, channel=Channel.PHONE).allowed
    assert run("US", NOON["US"], case=case, channel=Channel.EMAIL).allowed


@pytest.mark.parametrize("jurisdiction", ["US", "GB", "CN"])
def test_opt_out_of_one_address_blocks_it_and_leaves_the_others(jurisdiction: str) -> None:
    second = "other@example.org"
    opt = OptOut(channel=Channel.EMAIL, contact_point=EMAIL, at=utc("2026-06-01 00:00"))
    rule = {"US": "US-REGF-OPTOUT", "GB": "GB-CONC-OPTOUT", "CN": "CN-GATE-OPTOUT"}[jurisdiction]
    only_one = facts(jurisdiction, opt_outs=(opt,))
    now = NOON[jurisdiction]
    assert run(jurisdiction, now, case=only_one, channel=Channel.EMAIL).rule_id == rule
    assert run(jurisdiction, now, case=only_one, channel=Channel.EMAIL, contact_point=EMAIL).rule_id == rule
    two = facts(jurisdiction, opt_outs=(opt,), contact_points=(phone(), email(), email(second)))
    assert run(jurisdiction, now, case=two, channel=Channel.EMAIL).allowed
    assert run(jurisdiction, now, case=two, channel=Channel.EMAIL, contact_point=second).allowed
    assert run(jurisdiction, now, case=two, channel=Channel.EMAIL, contact_point=EMAIL).rule_id == rule


def test_missing_consent_or_unknown_contact_point_is_refused() -> None:
    case = facts("US", contact_points=(phone(sms=False), email(consent=False)))
    assert run("US", NOON["US"], case=case, channel=Channel.SMS).rule_id == "US-GATE-CONSENT"
    assert run("US", NOON["US"], case=case, channel=Channel.EMAIL).rule_id == "US-GATE-CONSENT"
    assert run("US", NOON["US"], case=case, channel=Channel.PHONE).allowed
    assert (
        run("US", NOON["US"], channel=Channel.PHONE, contact_point="+19995550000").rule_id
        == "US-GATE-CONSENT"
    )
    assert (
        run("US", NOON["US"], case=facts("US", contact_points=()), channel=Channel.PHONE).rule_id
        == "US-GATE-CONSENT"
    )
    assert run("US", NOON["US"], case=facts("US", contact_points=()), channel=Channel.LETTER).allowed


def test_us_workplace_ban() -> None:
    points = (phone(WORK, kind=PhoneKind.WORK), phone())
    case = facts("US", contact_points=points, workplace_contact_prohibited=True)
    assert run("US", NOON["US"], case=case, contact_point=WORK).rule_id == "US-REGF-WORK"
    assert run("US", NOON["US"], case=case, contact_point=MOBILE).allowed
    assert run("US", NOON["US"], case=case).allowed  # the mobile is still there
    only_work = facts("US", contact_points=(points[0],), workplace_contact_prohibited=True)
    assert run("US", NOON["US"], case=only_work).rule_id == "US-REGF-WORK"
    assert (
        run("US", NOON["US"], case=case, channel=Channel.FIELD_VISIT, at_workplace=True).rule_id
        == "US-REGF-WORK"
    )
    assert run("US", NOON["US"], case=facts("US", contact_points=points), contact_point=WORK).allowed


FRIEND = "+12025550777"


def test_us_third_parties_only_for_location_information_once_and_never_told() -> None:
    now = NOON["US"]
    tp = {"party": ContactParty.THIRD_PARTY, "contact_point": FRIEND}
    assert run("US", now, **tp).rule_id == "US-REGF-3P"  # collection purpose
    assert run("US", now, purpose=ContactPurpose.LOCATION_INFORMATION, **tp).allowed
    told = run("US", now, purpose=ContactPurpose.LOCATION_INFORMATION, discloses_debt=True, **tp)
    assert told.rule_id == "US-REGF-3P"
    assert "never" in (told.reason or "")
    asked = [
        entry(
            local("America/New_York", "2026-05-01 10:00"),
            ContactOutcome.THIRD_PARTY_CONTACT,
            party=ContactParty.THIRD_PARTY,
            contact_point=FRIEND,
        )
    ]
    again = run("US", now, history=asked, purpose=ContactPurpose.LOCATION_INFORMATION, **tp)
    assert again.rule_id == "US-REGF-3P"
    assert again.next_allowed_at is None
    assert (
        run("US", now, purpose=ContactPurpose.LOCATION_INFORMATION, channel=Channel.SMS, **tp).rule_id
        == "US-REGF-3P"
    )


def test_gb_third_parties_are_never_contacted() -> None:
    decision = run(
        "GB",
        NOON["GB"],
        party=ContactParty.THIRD_PARTY,
        contact_point=FRIEND,
        purpose=ContactPurpose.LOCATION_INFORMATION,
    )
    assert decision.rule_id == "GB-CONC-3P"


def test_cn_agreed_contact_only_to_locate_an_unreachable_debtor() -> None:
    sha = "Asia/Shanghai"
    now = NOON["CN"]
    failed = [entry(local(sha, f"2026-06-0{d} 10:00"), ContactOutcome.NO_ANSWER) for d in (5, 6, 8)]
    agreed = facts("CN", agreed_contacts=frozenset({FRIEND}))
    ask = {
        "party": ContactParty.THIRD_PARTY,
        "contact_point": FRIEND,
        "purpose": ContactPurpose.LOCATION_INFORMATION,
    }
    assert run("CN", now, case=agreed, history=failed, **ask).allowed
    # A phone-book contact the debtor never agreed to:
    assert run("CN", now, case=facts("CN"), history=failed, **ask).rule_id == "CN-NIFA-DEBTOR-ONLY"
    # The debtor was reached two days ago: not unreachable.
    reached = [*failed, entry(local(sha, "2026-06-08 11:00"), ContactOutcome.RIGHT_PARTY_CONTACT)]
    assert run("CN", now, case=agreed, history=reached, **ask).rule_id == "CN-NIFA-DEBTOR-ONLY"
    assert run("CN", now, case=agreed, history=failed[:2], **ask).rule_id == "CN-NIFA-DEBTOR-ONLY"
    assert (
        run("CN", now, case=agreed, history=failed, **{**ask, "purpose": ContactPurpose.COLLECTION}).rule_id
        == "CN-NIFA-DEBTOR-ONLY"
    )
    assert (
        run("CN", now, case=agreed, history=failed, discloses_debt=True, **ask).rule_id
        == "CN-NIFA-DEBTOR-ONLY"
    )


def test_cn_field_visit_needs_a_recording() -> None:
    now = NOON["CN"]
    refused = run("CN", now, channel=Channel.FIELD_VISIT)
    assert refused.rule_id == "CN-NIFA-RECORD"
    assert refused.next_allowed_at is None
    assert run("CN", now, channel=Channel.FIELD_VISIT, recording_ref="rec-av-1").allowed
    assert run("US", NOON["US"], channel=Channel.FIELD_VISIT).allowed


@pytest.mark.parametrize("jurisdiction", ["US", "GB", "CN"])
def test_unknown_time_zone_is_refused(jurisdiction: str) -> None:
    decision = run(jurisdiction, NOON[jurisdiction], case=facts(jurisdiction, "Mars/Olympus_Mons"))
    assert decision.rule_id == f"{jurisdiction}-GATE-TZ"
    assert decision.next_allowed_at is None
    assert decision.local_time is None


def test_unknown_jurisdiction_is_refused() -> None:
    with pytest.raises(UnknownJurisdiction):
        load_pack("ZZ")
    decision = decide_case(
        facts("ZZ", "Europe/Paris"), [], ProposedContact(channel=Channel.LETTER), NOON["GB"]
    )
    assert decision.verdict is Verdict.DENY
    assert decision.rule_id == "GATE-UNKNOWN-JURISDICTION"
    assert decide_case(facts("US"), [], ProposedContact(channel=Channel.PHONE), NOON["US"]).allowed


def test_closed_case_and_time_barred_debt() -> None:
    assert run("US", NOON["US"], case=facts("US", status=CaseStatus.CLOSED)).rule_id == "US-GATE-CLOSED"
    old = facts("US", due_since=date(2019, 3, 1))
    assert (
        run("US", NOON["US"], case=old, channel=Channel.LETTER, purpose=ContactPurpose.LEGAL_NOTICE).rule_id
        == "US-REGF-TIMEBAR"
    )
    assert run("US", NOON["US"], case=old, channel=Channel.LETTER).allowed
    recent = facts("US", due_since=date(2025, 3, 1))
    assert run(
        "US", NOON["US"], case=recent, channel=Channel.LETTER, purpose=ContactPurpose.LEGAL_NOTICE
    ).allowed


def test_decisions_name_the_pack_and_refuse_naive_times() -> None:
    decision = run("US", NOON["US"])
    assert (decision.pack_id, decision.pack_version, decision.jurisdiction) == ("us-regf", "2026.1", "US")
    assert decision.local_time == "2026-06-10T12:00:00-04:00"
    assert "US-REGF-7IN7" in decision.rules_checked
    with pytest.raises(ValueError, match="naive"):
        decide(
            load_pack("US"),
            facts("US"),
            [],
            ProposedContact(channel=Channel.PHONE),
            NOON["US"].replace(tzinfo=None),
        )
    with pytest.raises(ValueError, match="cannot be decided"):
        decide(load_pack("GB"), facts("US"), [], ProposedContact(channel=Channel.PHONE), NOON["US"])


def test_promise_due_date_within_the_horizon_and_not_during_a_hold() -> None:
    pack = load_pack("US")
    assert check_promise(pack, facts("US"), date(2026, 7, 10), NOON["US"]).allowed
    late = check_promise(pack, facts("US"), date(2026, 7, 11), NOON["US"])
    assert late.rule_id == "US-POLICY-PTP"
    assert check_promise(pack, facts("US"), date(2026, 6, 9), NOON["US"]).rule_id == "US-POLICY-PTP"
    held = facts("US", holds=(hold(HoldType.CEASE_COMMUNICATION),))
    assert check_promise(pack, held, date(2026, 6, 20), NOON["US"]).rule_id == "US-REGF-CEASE"


def test_packs_are_data_with_id_description_citation_and_parameters() -> None:
    assert available_packs() == [("CN", "2026.1"), ("GB", "2026.1"), ("US", "2026.1")]
    ids = {r.id for j, _ in available_packs() for r in load_pack(j).rules}
    assert ids >= {
        "US-REGF-TIME", "US-REGF-7IN7", "US-REGF-7AFTER", "US-REGF-CEASE", "US-REGF-ATTORNEY", "US-REGF-WORK",
        "US-REGF-DISPUTE", "US-REGF-OPTOUT", "US-REGF-TIMEBAR", "GB-CONC-TIME", "GB-CONC-DISPUTE",
        "GB-CONC-ADVICE", "GB-BS-STANDARD", "GB-BS-MH", "GB-CONC-3P", "CN-NIFA-TIME", "CN-NIFA-3CALLS",
        "CN-NIFA-DEBTOR-ONLY", "CN-NIFA-RECORD", "CN-CBRC-NO-PURE-RECOVERY-KPI",
    }  # fmt: skip
    for jurisdiction, _ in available_packs():
        for rule in load_pack(jurisdiction).rules:
            assert rule.description and rule.citation and rule.parameters.kind
    seven = load_pack("US").rule("US-REGF-7IN7").parameters
    assert (seven.max_contacts, seven.window_days, seven.scope) == (7, 7, "debt")  # type: ignore[union-attr]


def test_a_pack_that_leaves_a_hold_type_unblocked_does_not_load(tmp_path: Path) -> None:
    source = (Path(__file__).parents[1] / "src/dcp_compliance/packs/US-2026.1.yaml").read_text()
    broken = tmp_path / "US-2026.1.yaml"
    broken.write_text(source.replace("hold_types: [bankruptcy]", "hold_types: [dispute]"))
    with pytest.raises(PackError, match="bankruptcy"):
        load_pack_file(broken)
    misnamed = tmp_path / "US-2027.1.yaml"
    misnamed.write_text(source)
    with pytest.raises(PackError, match="does not match"):
        load_pack_file(misnamed)


@pytest.mark.parametrize("jurisdiction", sorted(ZONES))
def test_a_hold_to_the_end_of_the_calendar_means_not_before_it_ends_never_an_overflow(
    jurisdiction: str,
) -> None:
    far = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    for hold_type in HoldType:
        case = facts(
            jurisdiction,
            holds=(
                Hold(hold_id="h", hold_type=hold_type, placed_at=utc("2026-06-01 00:00"), expires_at=far),
            ),
        )
        decision = run(jurisdiction, NOON[jurisdiction], case=case)
        assert decision.allowed is False
        assert decision.next_allowed_at in (None, far), (hold_type, decision)
        options = channel_options(load_pack(jurisdiction), case, [], NOON[jurisdiction])
        assert all(not d.allowed for d in options.values())
