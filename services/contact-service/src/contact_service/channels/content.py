"""What the platform's messages say: e-mail and SMS text per language, with the opt-out instructions
every collection message carries (Regulation F 12 CFR 1006.6(e): a clear and conspicuous statement of a
reasonable and simple way to opt out of electronic communications to that address or number; the CN
and GB packs' equivalents), and the letter context of a case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from babel.numbers import format_currency, get_currency_precision

from contact_service.application.ports import CaseRow
from contact_service.channels.letters import Itemization, LetterContext
from dcp_compliance.limitation import limitation_of_rule
from dcp_compliance.packs import ValidationPeriod
from dcp_compliance.validation import validation_period_end, validation_rule


@dataclass(frozen=True)
class Collector:
    """Who the messages say is collecting (settings)."""

    name: str
    address: tuple[str, ...]
    phone: str
    email: str
    website: str


def _chinese(language: str) -> bool:
    return language.lower().startswith("zh")


def money(case: CaseRow, minor: int) -> str:
    language = str(case.profile.get("language") or "en")
    digits = get_currency_precision(case.currency)
    locale = language.replace("-", "_")
    try:
        return format_currency(minor / 10**digits, case.currency, locale=locale)
    except Exception:  # an unknown locale: the English form
        return format_currency(minor / 10**digits, case.currency, locale="en")


def email_content(case: CaseRow, collector: Collector, opt_out_url: str) -> tuple[str, str]:
    """(subject, text) of the collection e-mail, opt-out instructions included."""
    amount = money(case, case.balance_minor)
    reference = case.profile.get("account_reference") or case.case_id
    if _chinese(str(case.profile.get("language") or "")):
        subject = f"还款提醒：账户 {reference}"
        text = (
            f"尊敬的客户：\n\n您的账户 {reference} 目前尚有欠款 {amount}。请尽快还款，"
            f"或致电 {collector.phone} 与我们商定还款计划。\n\n{collector.name}\n{collector.website}\n\n"
            f"退订：如不希望再收到我们的电子邮件，请回复“退订”，或访问 {opt_out_url}\n"
        )
        return subject, text
    subject = f"About your account {reference}"
    text = (
        f"Hello,\n\n{collector.name} is a debt collector. We are trying to collect a debt. "
        f"Our records show a balance of {amount} on account {reference}.\n\n"
        f"To pay, or to talk about a payment plan, call {collector.phone} or visit {collector.website}.\n\n"
        f"{collector.name}\n{chr(10).join(collector.address)}\n\n"
        "How to stop these e-mails: reply to this message with the word STOP (or UNSUBSCRIBE), "
        f"or open this link: {opt_out_url}\n"
        "We will stop e-mailing this address once you do.\n"
    )
    return subject, text


def sms_content(case: CaseRow, collector: Collector) -> str:
    """The collection SMS, with how to opt out of texts (reply STOP / 回复退订)."""
    amount = money(case, case.balance_minor)
    if _chinese(str(case.profile.get("language") or "")):
        return (
            f"【{collector.name}】您的账户尚有欠款{amount}，请致电{collector.phone}商定还款。"
            "回复退订拒收短信。"
        )
    return (
        f"{collector.name}: a balance of {amount} is due on your account. "
        f"Call {collector.phone} to arrange payment. Reply STOP to opt out of texts."
    )


def verification_email(
    case: CaseRow, collector: Collector, opt_out_url: str, received_on: date, documents: tuple[str, ...]
) -> tuple[str, str]:
    """(subject, text) of the verification of a dispute sent by e-mail (12 CFR 1006.38(d)(2)): the debt,
    its current amount and the documents that show it, opt-out instructions included."""
    amount = money(case, case.balance_minor)
    reference = case.profile.get("account_reference") or case.case_id
    creditor = case.profile.get("creditor_id") or case.creditor_id or "the creditor"
    enclosed = "".join(f"- {line}\n" for line in documents) or "- the itemization of the account\n"
    subject = f"Verification of the debt you disputed: account {reference}"
    text = (
        f"Hello,\n\n{collector.name} is a debt collector. On {received_on.isoformat()} you told us that you "
        f"dispute the debt on account {reference}, owed to {creditor}. We stopped collecting it while we "
        f"checked it.\n\nThe amount of the debt now is {amount}. These documents show the debt:\n{enclosed}\n"
        f"If you believe this is wrong, write to us at {chr(10).join(collector.address)}.\n\n"
        f"{collector.name}\n{collector.website}\n\n"
        "How to stop these e-mails: reply to this message with the word STOP (or UNSUBSCRIBE), "
        f"or open this link: {opt_out_url}\n"
    )
    return subject, text


def _validation_period_end(jurisdiction: str, provided_on: date) -> date | None:
    rule = validation_rule(jurisdiction)
    if rule is None or not isinstance(rule.parameters, ValidationPeriod):
        return None
    return validation_period_end(rule.parameters, provided_on)


def letter_context(
    case: CaseRow,
    collector: Collector,
    today: date,
    opt_out_url: str | None,
    breathing_space: tuple[str, date] | None = None,
) -> LetterContext:
    """A case's letter: the debtor and account from the case profile, the itemization since placement,
    the validation period as the case's pack dates it (US Regulation F 1006.34(b)(5): 30 days after
    receipt, receipt assumed five business days after the letter's date) and, for reminders, a due date
    14 days out."""
    profile = case.profile
    item = profile.get("itemization") or {}
    placed = date.fromisoformat(profile["placed_on"]) if profile.get("placed_on") else today
    itemization = Itemization(
        itemization_date=placed,
        amount_at_itemization=int(item.get("amount", case.balance_minor)),
        interest=int(item.get("interest", 0)),
        fees=int(item.get("fees", 0)),
        payments=int(item.get("payments", 0)),
        credits=int(item.get("credits", 0)),
    )
    disclosure = time_barred_disclosure(case, today)
    return LetterContext(
        time_barred_disclosure=disclosure[0] if disclosure else None,
        time_barred_citation=disclosure[1] if disclosure else None,
        case_id=case.case_id,
        account_reference=str(profile.get("account_reference") or case.case_id),
        debtor_name=str(profile.get("full_name") or "The account holder"),
        mailing_address=tuple(profile.get("address") or ()),
        creditor_name=str(profile.get("creditor_id") or case.creditor_id or "the creditor"),
        original_creditor=None,
        collector_name=collector.name,
        collector_address=collector.address,
        collector_phone=collector.phone,
        collector_email=collector.email,
        collector_website=collector.website,
        currency=case.currency,
        language=str(profile.get("language") or "en"),
        letter_date=today,
        itemization=itemization,
        balance=case.balance_minor,
        arrears=case.balance_minor,
        missed_payments=max(1, int(profile.get("days_past_due") or 30) // 30),
        due_date=today + timedelta(days=14),
        validation_period_end=_validation_period_end(case.jurisdiction, today),
        breathing_space_start=breathing_space[1] if breathing_space else None,
        breathing_space_reference=breathing_space[0] if breathing_space else None,
        opt_out_url=opt_out_url,
    )


def time_barred_disclosure(case: CaseRow, today: date) -> tuple[str, str] | None:
    """(text, citation) of the disclosure the debt's state requires on communications about a
    time-barred debt (e.g. Cal. Civ. Code 1788.14(d)), when the debt is time-barred `today` under its
    limitation rule; None when it is not barred, or its state requires none."""
    facts = case.facts
    if facts.time_barred_at is None or today < facts.time_barred_at or facts.limitation_rule_id is None:
        return None
    law = limitation_of_rule(facts.limitation_rule_id)
    if law is None or law.disclosure is None:
        return None
    return law.disclosure.text, law.disclosure.citation
