"""Limitation periods from the rule text: the period, a restart where the law has one, a payment after
expiry that does or does not revive, and a 29 February start."""

from __future__ import annotations

from datetime import date

import pytest

from dcp_compliance.limitation import DebtType, RestartEvent, RestartKind, load_limitations, time_barred_at


def _pay(on: date) -> RestartEvent:
    return RestartEvent(kind=RestartKind.PAYMENT, on=on)


def _ack(on: date) -> RestartEvent:
    return RestartEvent(kind=RestartKind.WRITTEN_ACKNOWLEDGMENT, on=on)


# --- California -----------------------------------------------------------------------------------


def test_ca_ccp_337_four_years_on_a_credit_card() -> None:
    """Cal. Code Civ. Proc. 337(a): four years on a written contract or open book account."""
    basis = time_barred_at("US", "CA", "credit_card", date(2021, 5, 10))
    assert basis.time_barred_at == date(2025, 5, 10)
    assert basis.debt_type is DebtType.OPEN_ENDED
    assert basis.rule_id == "US-CA-LIM-OPEN-ENDED"
    assert "337" in (basis.citation or "")
    assert not basis.extinguishes


def test_ca_ccp_339_two_years_on_an_oral_agreement() -> None:
    """Cal. Code Civ. Proc. 339(1): two years on an obligation not founded on a writing."""
    assert time_barred_at("US", "US-CA", "oral_agreement", date(2021, 5, 10)).time_barred_at == date(
        2023, 5, 10
    )


def test_ca_ccp_360_written_acknowledgment_restarts_while_running() -> None:
    """Cal. Code Civ. Proc. 360: an acknowledgment in writing signed by the debtor restarts the period."""
    basis = time_barred_at("US", "CA", "personal_loan", date(2021, 5, 10), [_ack(date(2023, 1, 2))])
    assert basis.time_barred_at == date(2027, 1, 2)
    assert basis.restart == _ack(date(2023, 1, 2))
    assert "360" in (basis.citation or "")


def test_ca_payment_after_expiry_does_not_revive_and_the_disclosure_is_1788_14_d() -> None:
    """A payment after the four years does not revive (platform policy under Cal. Civ. Code
    1788.14(d)); the debt carries the 1788.14(d)(1) disclosure."""
    basis = time_barred_at("US", "CA", "credit_card", date(2019, 1, 1), [_pay(date(2024, 6, 1))])
    assert basis.time_barred_at == date(2023, 1, 1)
    assert basis.restart is None
    assert basis.disclosure is not None
    assert basis.disclosure.citation == "Cal. Civ. Code 1788.14(d)(1)"
    assert "you will not be sued for it" in basis.disclosure.text


def test_ca_leap_day_start_ends_on_28_february() -> None:
    """A period from 29 February ends on 28 February of a common year (the earlier day: when in doubt,
    barred)."""
    assert time_barred_at("US", "CA", "credit_card", date(2024, 2, 29)).time_barred_at == date(2028, 2, 29)
    assert time_barred_at("US", "CA", "oral_agreement", date(2024, 2, 29)).time_barred_at == date(2026, 2, 28)


# --- Texas ----------------------------------------------------------------------------------------


def test_tx_cprc_16_004_four_years() -> None:
    """Tex. Civ. Prac. & Rem. Code 16.004(a)(3), (c): four years on a debt or open account."""
    basis = time_barred_at("US", "TX", "credit_card", date(2020, 3, 15))
    assert basis.time_barred_at == date(2024, 3, 15)
    assert "16.004" in (basis.citation or "")


def test_tx_cprc_16_065_payment_alone_does_not_restart_a_written_acknowledgment_does() -> None:
    """Tex. Civ. Prac. & Rem. Code 16.065: only a signed written acknowledgment restarts the period."""
    assert time_barred_at(
        "US", "TX", "loan", date(2020, 3, 15), [_pay(date(2022, 1, 1))]
    ).time_barred_at == date(2024, 3, 15)
    assert time_barred_at(
        "US", "TX", "loan", date(2020, 3, 15), [_ack(date(2022, 1, 1))]
    ).time_barred_at == date(2026, 1, 1)


def test_tx_fin_code_392_307_nothing_after_expiry_revives_and_the_notice_is_required() -> None:
    """Tex. Fin. Code 392.307(b): after expiry a payment, affirmation or other activity does not revive
    or extend the period; 392.307(c): the written notice."""
    basis = time_barred_at(
        "US", "TX", "credit_card", date(2020, 3, 15), [_pay(date(2024, 5, 1)), _ack(date(2024, 5, 2))]
    )
    assert basis.time_barred_at == date(2024, 3, 15)
    assert basis.disclosure is not None and "392.307" in basis.disclosure.citation
    assert "SUED ON A DEBT" in basis.disclosure.text


def test_tx_leap_day() -> None:
    """Four years from 29 February is 29 February again."""
    assert time_barred_at("US", "TX", "card", date(2020, 2, 29)).time_barred_at == date(2024, 2, 29)


# --- New York -------------------------------------------------------------------------------------


def test_ny_cplr_213_a_three_years_on_consumer_credit() -> None:
    """N.Y. CPLR 213-a (Consumer Credit Fairness Act 2022): three years on a consumer credit transaction."""
    basis = time_barred_at("US", "NY", "credit_card", date(2022, 7, 1))
    assert basis.time_barred_at == date(2025, 7, 1)
    assert "213-a" in (basis.citation or "")


def test_ny_gol_17_101_written_acknowledgment_restarts_a_payment_does_not() -> None:
    """N.Y. Gen. Oblig. Law 17-101: a signed written acknowledgment restarts a running period."""
    start = date(2022, 7, 1)
    assert time_barred_at("US", "NY", "card", start, [_pay(date(2024, 1, 1))]).time_barred_at == date(
        2025, 7, 1
    )
    assert time_barred_at("US", "NY", "card", start, [_ack(date(2024, 1, 1))]).time_barred_at == date(
        2027, 1, 1
    )


def test_ny_cplr_213_a_a_payment_after_expiry_does_not_revive_and_23_nycrr_1_3_notice() -> None:
    """N.Y. CPLR 213-a: once expired, a later payment or affirmation does not revive or extend the
    period; 23 NYCRR 1.3 requires the notice."""
    basis = time_barred_at(
        "US", "NY", "card", date(2022, 7, 1), [_pay(date(2025, 8, 1)), _ack(date(2025, 8, 2))]
    )
    assert basis.time_barred_at == date(2025, 7, 1)
    assert basis.disclosure is not None and "23 NYCRR 1.3" in basis.disclosure.citation


def test_ny_leap_day() -> None:
    """Three years from 29 February 2024 ends on 28 February 2027."""
    assert time_barred_at("US", "NY", "card", date(2024, 2, 29)).time_barred_at == date(2027, 2, 28)


# --- Florida --------------------------------------------------------------------------------------


def test_fl_95_11_five_years_written_four_years_open_account() -> None:
    """Fla. Stat. 95.11(2)(b): five years on a written instrument; 95.11(3): four on an open account."""
    assert time_barred_at("US", "FL", "auto_loan", date(2021, 1, 4)).time_barred_at == date(2026, 1, 4)
    assert time_barred_at("US", "FL", "credit_card", date(2021, 1, 4)).time_barred_at == date(2025, 1, 4)


def test_fl_95_051_part_payment_restarts_while_running_not_after() -> None:
    """Fla. Stat. 95.051(1): part payment on a written obligation restarts; a barred debt is not revived
    by a payment (95.04 wants a signed writing; platform policy: never revived)."""
    start = date(2021, 1, 4)
    assert time_barred_at("US", "FL", "loan", start, [_pay(date(2023, 6, 1))]).time_barred_at == date(
        2028, 6, 1
    )
    assert time_barred_at("US", "FL", "loan", start, [_pay(date(2026, 6, 1))]).time_barred_at == date(
        2026, 1, 4
    )


def test_fl_leap_day() -> None:
    """Five years from 29 February 2024 ends on 28 February 2029."""
    assert time_barred_at("US", "FL", "loan", date(2024, 2, 29)).time_barred_at == date(2029, 2, 28)


# --- Illinois -------------------------------------------------------------------------------------


def test_il_13_206_ten_years_written_13_205_five_years_unwritten() -> None:
    """735 ILCS 5/13-206: ten years on written contracts and notes; 13-205: five on unwritten contracts."""
    assert time_barred_at("US", "IL", "personal_loan", date(2018, 9, 1)).time_barred_at == date(2028, 9, 1)
    assert time_barred_at("US", "IL", "credit_card", date(2018, 9, 1)).time_barred_at == date(2023, 9, 1)


def test_il_13_206_a_payment_within_the_period_restarts_after_it_does_not_revive() -> None:
    """735 ILCS 5/13-206: after a payment or written promise the action lies within the period from it."""
    start = date(2018, 9, 1)
    assert time_barred_at("US", "IL", "card", start, [_pay(date(2022, 1, 1))]).time_barred_at == date(
        2027, 1, 1
    )
    assert time_barred_at("US", "IL", "card", start, [_pay(date(2024, 1, 1))]).time_barred_at == date(
        2023, 9, 1
    )


def test_il_leap_day() -> None:
    assert time_barred_at("US", "IL", "card", date(2020, 2, 29)).time_barred_at == date(2025, 2, 28)


# --- England and Wales ----------------------------------------------------------------------------


def test_ew_limitation_act_1980_s5_six_years() -> None:
    """Limitation Act 1980 s.5: six years on a simple contract; the remedy is barred, not the debt."""
    basis = time_barred_at("GB", "ENG", "credit_card", date(2019, 11, 20))
    assert basis.time_barred_at == date(2025, 11, 20)
    assert basis.rule_id == "GB-ENG-LIM-OPEN-ENDED"
    assert not basis.extinguishes


def test_ew_s29_5_part_payment_restarts() -> None:
    """Limitation Act 1980 s.29(5): an acknowledgment or part payment makes the right accrue anew."""
    basis = time_barred_at("GB", "GB-ENG", "loan", date(2019, 11, 20), [_pay(date(2022, 2, 2))])
    assert basis.time_barred_at == date(2028, 2, 2)
    assert "s.29(5)" in (basis.citation or "")


def test_ew_s29_7_a_payment_after_expiry_does_not_revive() -> None:
    """Limitation Act 1980 s.29(7): a current period may be extended, but a barred right is not revived."""
    basis = time_barred_at("GB", "ENG", "loan", date(2019, 11, 20), [_pay(date(2026, 1, 5))])
    assert basis.time_barred_at == date(2025, 11, 20)
    assert basis.restart is None


def test_ew_leap_day_and_wales_and_the_default_nation() -> None:
    """Six years from 29 February 2020 ends on 28 February 2026; Wales shares the 1980 Act."""
    assert time_barred_at("GB", "Wales", "loan", date(2020, 2, 29)).time_barred_at == date(2026, 2, 28)
    unknown_region = time_barred_at("GB", None, "loan", date(2020, 2, 29))
    assert unknown_region.rule_id == "GB-ENG-LIM-WRITTEN-CONTRACT"
    assert "no region given" in unknown_region.reason


def test_ew_s20_twelve_years_on_mortgage_principal() -> None:
    """Limitation Act 1980 s.20(1): twelve years on principal secured by a mortgage."""
    assert time_barred_at("GB", "ENG", "mortgage", date(2015, 4, 1)).time_barred_at == date(2027, 4, 1)


# --- Scotland -------------------------------------------------------------------------------------


def test_scotland_1973_act_s6_five_year_prescription_extinguishes() -> None:
    """Prescription and Limitation (Scotland) Act 1973 s.6: after five years the obligation is
    extinguished (not only the remedy)."""
    basis = time_barred_at("GB", "SCT", "credit_card", date(2020, 6, 30))
    assert basis.time_barred_at == date(2025, 6, 30)
    assert basis.extinguishes


def test_scotland_s10_relevant_acknowledgment_by_part_payment_restarts() -> None:
    """1973 Act s.10: performance towards implement (a part payment) is a relevant acknowledgment."""
    basis = time_barred_at("GB", "Scotland", "loan", date(2020, 6, 30), [_pay(date(2024, 1, 10))])
    assert basis.time_barred_at == date(2029, 1, 10)


def test_scotland_a_payment_after_prescription_does_not_revive() -> None:
    """1973 Act s.6(1): the obligation is extinguished; a later payment revives nothing."""
    basis = time_barred_at("GB", "SCT", "loan", date(2020, 6, 30), [_pay(date(2025, 7, 1))])
    assert basis.time_barred_at == date(2025, 6, 30)
    assert basis.extinguishes


def test_scotland_leap_day() -> None:
    assert time_barred_at("GB", "SCT", "loan", date(2020, 2, 29)).time_barred_at == date(2025, 2, 28)


# --- China ----------------------------------------------------------------------------------------


def test_cn_civil_code_art_188_three_years() -> None:
    """Civil Code art. 188: three years; art. 192: after expiry the obligor may refuse performance."""
    basis = time_barred_at("CN", None, "credit_card", date(2022, 3, 1))
    assert basis.time_barred_at == date(2025, 3, 1)
    assert basis.rule_id == "CN-LIM-OPEN-ENDED"
    assert not basis.extinguishes


def test_cn_art_195_a_creditor_claim_interrupts_and_the_period_runs_anew() -> None:
    """Civil Code art. 195: the obligee's claim for performance interrupts; the period runs anew."""
    demand = RestartEvent(kind=RestartKind.CREDITOR_DEMAND, on=date(2024, 2, 1))
    basis = time_barred_at("CN", None, "loan", date(2022, 3, 1), [demand])
    assert basis.time_barred_at == date(2027, 2, 1)
    assert "art. 195" in (basis.citation or "")


def test_cn_art_192_a_payment_after_expiry_revives_a_demand_does_not() -> None:
    """Civil Code art. 192 para 2: an obligor who agrees to perform after expiry may not plead it; a
    creditor's claim after expiry changes nothing."""
    demand = RestartEvent(kind=RestartKind.CREDITOR_DEMAND, on=date(2025, 6, 1))
    assert time_barred_at("CN", None, "loan", date(2022, 3, 1), [demand]).time_barred_at == date(2025, 3, 1)
    revived = time_barred_at("CN", None, "loan", date(2022, 3, 1), [_pay(date(2025, 6, 1))])
    assert revived.time_barred_at == date(2028, 6, 1)
    assert "art. 192" in (revived.citation or "")


def test_cn_leap_day() -> None:
    assert time_barred_at("CN", None, "loan", date(2024, 2, 29)).time_barred_at == date(2027, 2, 28)


# --- what cannot be known -------------------------------------------------------------------------


def test_unknown_state_or_jurisdiction_or_due_date_gives_no_date_with_a_reason() -> None:
    assert time_barred_at("US", "ZZ", "card", date(2020, 1, 1)).time_barred_at is None
    assert time_barred_at("US", None, "card", date(2020, 1, 1)).time_barred_at is None
    assert time_barred_at("FR", None, "card", date(2020, 1, 1)).reason.startswith("no limitation period")
    assert time_barred_at("US", "CA", "card", None).time_barred_at is None


def test_unknown_product_takes_the_default_debt_type_with_the_reason() -> None:
    basis = time_barred_at("US", "NY", "jet_ski_lease", date(2022, 7, 1))
    assert basis.debt_type is DebtType.OPEN_ENDED
    assert "jet_ski_lease" in basis.reason and "default" in basis.reason


@pytest.mark.parametrize("state", ["CA", "TX", "NY", "FL", "IL"])
def test_every_state_period_has_a_citation(state: str) -> None:
    law = load_limitations().limitation("US", state)
    assert law is not None
    assert all(p.citation for p in law.periods.values())
    assert law.revival_citation
