"""Counting rules, from the rule text.

US-REGF-7IN7: more than 7 calls to a person about a particular debt within 7 consecutive days is a
presumed violation (per debtor, per debt). US-REGF-7AFTER: no call within 7 days after a telephone
conversation about the debt, the conversation's day counting as day 1. CN-NIFA-3CALLS: at most 3
connected calls per calendar day per debtor, the institution and its agencies counted together.
Days are the debtor's local calendar days."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dcp_compliance import Channel, ContactOutcome, ContactParty, Verdict

from .helpers import entry, local, run

NY, SHA = "America/New_York", "Asia/Shanghai"
RPC = ContactOutcome.RIGHT_PARTY_CONTACT


def calls(
    zone: str, wall: str, n: int, outcome: ContactOutcome = ContactOutcome.NO_ANSWER, **kw: object
) -> list:
    start = local(zone, wall)
    return [entry(start + timedelta(minutes=5 * i), outcome, **kw) for i in range(n)]  # type: ignore[arg-type]


# (history: (local wall time of the first call, count) per group, proposed local time, allowed?, next local)
SEVEN_IN_SEVEN = [
    ("6 calls: the 7th is allowed", [("2026-06-01 10:00", 6)], "2026-06-02 10:00", True, None),
    (
        "7 calls on day 1: refused on day 7",
        [("2026-06-01 10:00", 7)],
        "2026-06-07 10:00",
        False,
        "2026-06-08 08:00",
    ),
    ("7 calls on day 1: allowed on day 8", [("2026-06-01 10:00", 7)], "2026-06-08 08:00", True, None),
    (
        "7 calls on day 1: refused the same day",
        [("2026-06-01 10:00", 7)],
        "2026-06-01 18:00",
        False,
        "2026-06-08 08:00",
    ),
    (
        "one call a day for 7 days: the window slides one day",
        [(f"2026-06-0{d} 10:00", 1) for d in range(1, 8)],
        "2026-06-07 20:00",
        False,
        "2026-06-08 08:00",
    ),
    (
        "one call a day for 7 days: day 8 has room",
        [(f"2026-06-0{d} 10:00", 1) for d in range(1, 8)],
        "2026-06-08 09:00",
        True,
        None,
    ),
    (
        "3 on day 1 and 4 on day 5: full on day 7, reopens when day 1 leaves",
        [("2026-06-01 10:00", 3), ("2026-06-05 10:00", 4)],
        "2026-06-07 10:00",
        False,
        "2026-06-08 08:00",
    ),
    (
        "3 on day 1 and 7 on day 5: still full on day 8, reopens when day 5 leaves",
        [("2026-06-01 10:00", 3), ("2026-06-05 10:00", 7)],
        "2026-06-08 10:00",
        False,
        "2026-06-12 08:00",
    ),
    # 20:30 New York on 31 May is already 1 June in UTC: the local day is what counts.
    (
        "local day, not UTC day: still in the window",
        [("2026-05-31 20:30", 7)],
        "2026-06-06 20:00",
        False,
        "2026-06-07 08:00",
    ),
    ("local day, not UTC day: out of the window", [("2026-05-31 20:30", 7)], "2026-06-07 08:00", True, None),
]


@pytest.mark.parametrize(
    ("title", "groups", "wall", "allowed", "next_wall"), SEVEN_IN_SEVEN, ids=[c[0] for c in SEVEN_IN_SEVEN]
)
def test_us_seven_calls_in_seven_days(
    title: str, groups: list, wall: str, allowed: bool, next_wall: str | None
) -> None:
    history = [e for first, n in groups for e in calls(NY, first, n)]
    decision = run("US", local(NY, wall), history=history)
    if allowed:
        assert decision.verdict is Verdict.ALLOW, decision.reason
    else:
        assert decision.rule_id == "US-REGF-7IN7"
        assert decision.citation == "12 CFR 1006.14(b)(2)(i)(A)"
        assert decision.next_allowed_at == local(NY, next_wall or "")


def test_7in7_counts_per_debt_calls_only() -> None:
    now = local(NY, "2026-06-03 10:00")
    other_debt = calls(NY, "2026-06-01 10:00", 7, case_id="case-2")
    assert run("US", now, history=other_debt).allowed
    third_party = calls(
        NY, "2026-06-01 10:00", 7, party=ContactParty.THIRD_PARTY, contact_point="+12025550777"
    )
    assert run("US", now, history=third_party).allowed
    texts = calls(NY, "2026-06-01 10:00", 7, channel=Channel.SMS)
    assert run("US", now, history=texts).allowed
    assert run("US", now, history=calls(NY, "2026-06-01 10:00", 7)).rule_id == "US-REGF-7IN7"
    # The cap is about calls: an SMS is still allowed after 7 calls.
    assert run("US", now, history=calls(NY, "2026-06-01 10:00", 7), channel=Channel.SMS).allowed


def test_recorded_attempt_is_not_counted_against_itself() -> None:
    history = calls(NY, "2026-06-01 10:00", 7)
    last = history[-1]
    assert run("US", last.at, history=history[:-1]).allowed
    assert run("US", last.at, history=history, attempt_id=last.attempt_id).allowed


# (conversation local time, outcome, proposed local time, allowed?, next local)
SEVEN_AFTER = [
    (
        "same day as the conversation is day 1",
        "2026-06-01 14:00",
        RPC,
        "2026-06-01 18:00",
        False,
        "2026-06-08 08:00",
    ),
    ("day 7 is still inside", "2026-06-01 14:00", RPC, "2026-06-07 20:59", False, "2026-06-08 08:00"),
    ("day 8 is allowed", "2026-06-01 14:00", RPC, "2026-06-08 08:00", True, None),
    (
        "a promise is a conversation",
        "2026-06-01 14:00",
        ContactOutcome.PROMISE_MADE,
        "2026-06-04 10:00",
        False,
        "2026-06-08 08:00",
    ),
    (
        "a refusal to pay is a conversation",
        "2026-06-01 14:00",
        ContactOutcome.REFUSED,
        "2026-06-04 10:00",
        False,
        "2026-06-08 08:00",
    ),
    (
        "no answer is not a conversation",
        "2026-06-01 14:00",
        ContactOutcome.NO_ANSWER,
        "2026-06-01 18:00",
        True,
        None,
    ),
    (
        "voicemail is not a conversation",
        "2026-06-01 14:00",
        ContactOutcome.VOICEMAIL,
        "2026-06-02 10:00",
        True,
        None,
    ),
    # 20:59 New York on 1 June is 2 June in UTC: day 1 is the debtor's 1 June.
    ("day 1 is the local date", "2026-06-01 20:59", RPC, "2026-06-08 08:00", True, None),
    (
        "day 1 is the local date (day 7)",
        "2026-06-01 20:59",
        RPC,
        "2026-06-07 12:00",
        False,
        "2026-06-08 08:00",
    ),
]


@pytest.mark.parametrize(
    ("title", "talked", "outcome", "wall", "allowed", "next_wall"),
    SEVEN_AFTER,
    ids=[c[0] for c in SEVEN_AFTER],
)
def test_us_no_call_within_seven_days_after_a_conversation(
    title: str, talked: str, outcome: ContactOutcome, wall: str, allowed: bool, next_wall: str | None
) -> None:
    history = [entry(local(NY, talked), outcome)]
    decision = run("US", local(NY, wall), history=history)
    if allowed:
        assert decision.verdict is Verdict.ALLOW, decision.reason
    else:
        assert decision.rule_id == "US-REGF-7AFTER"
        assert decision.citation == "12 CFR 1006.14(b)(2)(i)(B)"
        assert decision.next_allowed_at == local(NY, next_wall or "")


def test_conversation_cool_down_is_per_debt_and_about_calls() -> None:
    history = [entry(local(NY, "2026-06-01 14:00"), RPC, case_id="case-2")]
    assert run("US", local(NY, "2026-06-02 10:00"), history=history).allowed
    mine = [entry(local(NY, "2026-06-01 14:00"), RPC)]
    assert run("US", local(NY, "2026-06-02 10:00"), history=mine, channel=Channel.EMAIL).allowed


CONNECTED = ContactOutcome.RIGHT_PARTY_CONTACT


def test_cn_three_connected_calls_a_day_counting_two_agencies_and_the_institution_together() -> None:
    history = [
        entry(local(SHA, "2026-06-10 09:00"), CONNECTED),  # the institution itself
        entry(local(SHA, "2026-06-10 11:00"), ContactOutcome.REFUSED, agency_id="agency-a"),
        entry(local(SHA, "2026-06-10 15:00"), ContactOutcome.WRONG_NUMBER, agency_id="agency-b"),
    ]
    refused = run("CN", local(SHA, "2026-06-10 16:00"), history=history, agency_id="agency-b")
    assert refused.rule_id == "CN-NIFA-3CALLS"
    assert "3 connected calls" in (refused.reason or "")
    assert refused.next_allowed_at == local(SHA, "2026-06-11 08:00")
    assert run("CN", local(SHA, "2026-06-10 16:00"), history=history[:2], agency_id="agency-b").allowed
    # By any single agency's own count (at most 1) nothing would be refused: the count is the debtor's.
    assert len({e.agency_id for e in history}) == 3


def test_cn_unanswered_calls_do_not_count() -> None:
    history = [
        entry(local(SHA, "2026-06-10 09:00"), CONNECTED),
        entry(local(SHA, "2026-06-10 09:30"), CONNECTED),
    ]
    history += calls(SHA, "2026-06-10 10:00", 6, ContactOutcome.NO_ANSWER, agency_id="agency-a")
    history += calls(SHA, "2026-06-10 12:00", 2, ContactOutcome.VOICEMAIL, agency_id="agency-b")
    assert run("CN", local(SHA, "2026-06-10 16:00"), history=history).allowed


CN_DAYS = [
    ("yesterday's calls do not count", "2026-06-09 21:59", "2026-06-10 08:00", True, None),
    (
        "the calendar day ends at local midnight",
        "2026-06-10 08:00",
        "2026-06-10 21:59",
        False,
        "2026-06-11 08:00",
    ),
]


@pytest.mark.parametrize(
    ("title", "first", "wall", "allowed", "next_wall"), CN_DAYS, ids=[c[0] for c in CN_DAYS]
)
def test_cn_calendar_day(title: str, first: str, wall: str, allowed: bool, next_wall: str | None) -> None:
    history = calls(SHA, first, 3, CONNECTED)
    decision = run("CN", local(SHA, wall), history=history)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.next_allowed_at == local(SHA, next_wall or "")


def test_cn_count_is_per_debtor_across_the_debtors_cases() -> None:
    history = calls(SHA, "2026-06-10 09:00", 2, CONNECTED, case_id="case-2")
    history.append(entry(local(SHA, "2026-06-10 12:00"), CONNECTED, case_id="case-3"))
    assert run("CN", local(SHA, "2026-06-10 16:00"), history=history).rule_id == "CN-NIFA-3CALLS"
    other_debtor = calls(SHA, "2026-06-10 09:00", 3, CONNECTED, debtor_id="dbt-2", case_id="case-9")
    assert run("CN", local(SHA, "2026-06-10 16:00"), history=other_debtor).allowed
