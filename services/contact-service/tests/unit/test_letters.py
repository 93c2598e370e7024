"""The letter channel's rendering: what the printed letters say (read back from the PDFs), what they refuse
to render, and that the same letter and the same print file are the same bytes on every run."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import time
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from contact_service.application.ports import CaseRow
from contact_service.channels.content import Collector, letter_context
from contact_service.channels.letters import (
    TEMPLATES,
    Itemization,
    LetterContext,
    LetterContextError,
    RenderedLetter,
    UnknownLetterTemplate,
    render_letter,
    template_for,
    write_letter,
    write_print_file,
)
from dcp_compliance import CaseFacts

LETTER_DATE = date(2026, 3, 2)
MINUS = "\N{EN DASH}"  # the model notice's minus sign

ITEMIZATION = Itemization(
    itemization_date=date(2025, 11, 30),
    amount_at_itemization=120_000,
    interest=3_525,
    fees=2_500,
    payments=7_500,
    credits=2_500,
)

US_CONTEXT = LetterContext(
    case_id="CASE-2026-000123",
    account_reference="****-****-4821",
    debtor_name="Jordan A. Rivera",
    mailing_address=("1208 Maple Avenue, Apt 4B", "Springfield, IL 62704"),
    creditor_name="Lakeside Bank, N.A.",
    original_creditor="Prairie Home Furnishings",
    collector_name="Northbridge Recovery Services, LLC",
    collector_address=("PO Box 4410", "Columbus, OH 43216"),
    collector_phone="1-800-555-0142",
    collector_email="help@northbridge.example",
    collector_website="www.northbridge.example",
    currency="USD",
    language="en-US",
    letter_date=LETTER_DATE,
    itemization=ITEMIZATION,
    validation_period_end=date(2026, 4, 13),
)

GB_CONTEXT = LetterContext(
    case_id="CASE-2026-000456",
    account_reference="****7310",
    debtor_name="Alex Morgan",
    mailing_address=("14 Wellington Road", "Leeds", "LS1 4AP"),
    creditor_name="Harbour Finance plc",
    original_creditor=None,
    collector_name="Northbridge Recovery Services Ltd",
    collector_address=("PO Box 881", "Manchester", "M60 2HB"),
    collector_phone="0161 555 0199",
    collector_email="help@northbridge.example",
    collector_website="www.northbridge.example",
    currency="GBP",
    language="en-GB",
    letter_date=LETTER_DATE,
    balance=245_075,
    arrears=31_050,
    missed_payments=2,
)

BREATHING_SPACE_CONTEXT = replace(
    GB_CONTEXT,
    arrears=None,
    missed_payments=None,
    breathing_space_start=date(2026, 2, 20),
    breathing_space_reference="BS-2026-0042117",
)

CN_CONTEXT = LetterContext(
    case_id="CASE-2026-000789",
    account_reference="****5566",
    debtor_name="王小明",
    mailing_address=("上海市浦东新区世纪大道100号", "1201室"),
    creditor_name="华信消费金融有限公司",
    original_creditor=None,
    collector_name="明诚资产管理有限公司",
    collector_address=("北京市朝阳区建国路88号",),
    collector_phone="400-800-1234",
    collector_email="service@mingcheng.example",
    collector_website="www.mingcheng.example",
    currency="CNY",
    language="zh-CN",
    letter_date=LETTER_DATE,
    balance=123_456,
    due_date=date(2026, 3, 20),
)


def pdf_text(letter: RenderedLetter) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(letter.pdf)).pages)


def dollars(minor: int) -> str:
    return f"${minor / 100:,.2f}"


# Each template is rendered once for the module: a WeasyPrint render takes a good part of a second.
@pytest.fixture(scope="module")
def validation_notice() -> RenderedLetter:
    return render_letter("us/validation_notice", US_CONTEXT)


@pytest.fixture(scope="module")
def arrears_notice() -> RenderedLetter:
    return render_letter("gb/arrears_notice", GB_CONTEXT)


@pytest.fixture(scope="module")
def breathing_space_acknowledgement() -> RenderedLetter:
    return render_letter("gb/breathing_space_acknowledgement", BREATHING_SPACE_CONTEXT)


@pytest.fixture(scope="module")
def repayment_reminder() -> RenderedLetter:
    return render_letter("cn/repayment_reminder", CN_CONTEXT)


def test_the_validation_notice_itemizes_the_debt(validation_notice: RenderedLetter) -> None:
    text = pdf_text(validation_notice)

    assert "Northbridge Recovery Services, LLC is a debt collector." in text
    assert "As of November 30, 2025, you owed: $1,200.00" in text
    assert "Between November 30, 2025 and today:" in text
    assert "You were charged this amount in interest: + $35.25" in text
    assert "You were charged this amount in fees: + $25.00" in text
    # Payments and credits are one line on the model notice.
    assert ITEMIZATION.paid_or_credited == 10_000
    assert f"You paid or were credited this amount toward the debt: {MINUS} $100.00" in text
    assert f"Total amount of the debt now: {dollars(ITEMIZATION.current_amount)}" in text
    assert dollars(ITEMIZATION.current_amount) == "$1,160.25"


def test_the_validation_notice_tells_how_to_dispute_and_by_when(validation_notice: RenderedLetter) -> None:
    text = pdf_text(validation_notice)

    assert "Call or write to us by April 13, 2026 to dispute all or part of the debt." in text
    assert "If you write to us by April 13, 2026, we must stop collection" in text
    assert "www.cfpb.gov/debt-collection" in text
    for prompt in (
        "How do you want to respond?",
        "This is not my debt.",
        "The amount is wrong.",
        "I want you to send me the name and address of the",
        "I enclosed this amount: $",
        "Mail this form to:",
    ):
        assert prompt in text
    assert "Prairie Home Furnishings" in text
    assert "****-****-4821" in text
    assert "1-800-555-0142" in text


def test_a_validation_notice_without_its_itemization_is_refused_naming_the_field() -> None:
    with pytest.raises(LetterContextError, match="itemization"):
        render_letter("us/validation_notice", replace(US_CONTEXT, itemization=None))
    with pytest.raises(LetterContextError, match="validation_period_end"):
        render_letter("us/validation_notice", replace(US_CONTEXT, validation_period_end=None))


def test_an_itemization_with_a_negative_charge_is_refused() -> None:
    with pytest.raises(ValueError, match="fees"):
        replace(ITEMIZATION, fees=-1)


def test_what_the_context_says_is_escaped_in_the_html() -> None:
    letter = render_letter("gb/arrears_notice", replace(GB_CONTEXT, debtor_name="<script>alert(1)</script>"))

    assert "<script>" not in letter.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in letter.html
    assert "<script>alert(1)</script>" in pdf_text(letter)


def test_the_arrears_notice_shows_the_arrears_in_pounds(arrears_notice: RenderedLetter) -> None:
    text = pdf_text(arrears_notice)

    assert "Notice of sums in arrears" in text
    assert "This notice is given because you are behind with your payments" in text
    assert "Consumer Credit Act 1974" in text
    assert "Sum of the arrears £310.50" in text
    assert "£2,450.75" in text
    assert "Payments missed 2" in text
    assert "arrears information sheet" in text
    assert "2 March 2026" in text


def test_the_breathing_space_acknowledgement_shows_its_reference_and_start(
    breathing_space_acknowledgement: RenderedLetter,
) -> None:
    text = pdf_text(breathing_space_acknowledgement)

    assert "BS-2026-0042117" in text
    assert "Breathing space start date 20 February 2026" in text
    assert "frozen" in text
    assert "£2,450.75" in text


def test_the_chinese_reminder_reads_back_in_chinese(repayment_reminder: RenderedLetter) -> None:
    text = pdf_text(repayment_reminder)

    assert "还款提醒函" in text, "no Chinese in the PDF: is a CJK font installed (fonts-wqy-microhei)?"
    assert "尊敬的客户" in text
    assert "¥1,234.56" in text
    assert "请于 2026年3月20日 前还款" in text
    assert "依法合规催收" in text
    assert "如有异议" in text


def test_the_same_letter_is_the_same_bytes(validation_notice: RenderedLetter) -> None:
    # Rendered in a later second than the fixture: a clock read anywhere in the render would show.
    started = int(time.time())
    while int(time.time()) == started:
        time.sleep(0.05)
    again = render_letter("us/validation_notice", US_CONTEXT)

    assert again.sha256 == validation_notice.sha256
    assert validation_notice.sha256 == hashlib.sha256(validation_notice.pdf).hexdigest()
    metadata = PdfReader(io.BytesIO(validation_notice.pdf)).metadata
    assert metadata is not None
    assert metadata["/CreationDate"] == metadata["/ModDate"] == "D:20260302"
    assert "SOURCE_DATE_EPOCH" not in os.environ


def test_an_unknown_template_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownLetterTemplate, match=r"xx/nope.*us/validation_notice"):
        render_letter("xx/nope", US_CONTEXT)
    with pytest.raises(UnknownLetterTemplate):
        template_for("XX", "nope")
    assert template_for("US", "validation_notice") == "us/validation_notice"
    assert template_for("GB", "breathing_space_acknowledgement") in TEMPLATES


def test_a_letter_is_written_whole_under_its_id(tmp_path: Path, arrears_notice: RenderedLetter) -> None:
    path = write_letter(tmp_path / "out", "L-1", arrears_notice)

    assert path == tmp_path / "out" / "L-1.pdf"
    assert path.read_bytes() == arrears_notice.pdf
    assert [entry.name for entry in path.parent.iterdir()] == ["L-1.pdf"]
    with pytest.raises(ValueError, match="plain name"):
        write_letter(tmp_path, "../L-2", arrears_notice)


def test_the_print_file_holds_each_letter_and_a_manifest_and_repeats_byte_for_byte(
    tmp_path: Path,
    validation_notice: RenderedLetter,
    arrears_notice: RenderedLetter,
    repayment_reminder: RenderedLetter,
) -> None:
    letters = [
        ("L-3", CN_CONTEXT, repayment_reminder),
        ("L-1", US_CONTEXT, validation_notice),
        ("L-2", GB_CONTEXT, arrears_notice),
    ]

    first = write_print_file(tmp_path / "first", "batch-2026-03-02", letters)
    second = write_print_file(tmp_path / "second", "batch-2026-03-02", list(reversed(letters)))

    assert first.path == tmp_path / "first" / "batch-2026-03-02.zip"
    assert first.count == 3
    assert first.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256

    with zipfile.ZipFile(first.path) as archive:
        assert archive.namelist() == ["manifest.csv", "L-1.pdf", "L-2.pdf", "L-3.pdf"]
        rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
        pdfs = {name: archive.read(name) for name in archive.namelist() if name.endswith(".pdf")}

    assert [row["letter_id"] for row in rows] == ["L-1", "L-2", "L-3"]
    in_order = sorted(letters, key=lambda entry: entry[0])
    for row, (letter_id, context, letter) in zip(rows, in_order, strict=True):
        assert row["case_id"] == context.case_id
        assert row["template_id"] == letter.template_id
        assert row["recipient_name"] == context.debtor_name
        assert row["address"] == " | ".join(context.mailing_address)
        assert int(row["pages"]) == letter.page_count
        assert row["sha256"] == letter.sha256 == hashlib.sha256(pdfs[f"{letter_id}.pdf"]).hexdigest()


def test_a_print_file_refuses_a_letter_id_twice(tmp_path: Path, arrears_notice: RenderedLetter) -> None:
    with pytest.raises(ValueError, match="L-1"):
        write_print_file(tmp_path, "batch", [("L-1", GB_CONTEXT, arrears_notice)] * 2)
    assert list(tmp_path.iterdir()) == []


# --- time-barred debt -----------------------------------------------------------------------------

_SUIT_WORDS = ("lawsuit", "sue you", "we may sue", "court", "legal action", "judgment", "attorney")


def _time_barred_case(rule_id: str, time_barred_at: date) -> CaseRow:
    return CaseRow(
        case_id="CASE-2026-000123",
        debtor_id="dbt-1",
        jurisdiction="US",
        status="open",
        assignee_kind=None,
        assignee_id=None,
        currency="USD",
        balance_minor=120_000,
        risk_score=None,
        strategy_assigned_at=None,
        treatment=[],
        facts=CaseFacts(
            case_id="CASE-2026-000123",
            debtor_id="dbt-1",
            jurisdiction="US",
            time_zone="America/Los_Angeles",
            due_since=date(2019, 1, 10),
            time_barred_at=time_barred_at,
            limitation_rule_id=rule_id,
        ),
        profile={"language": "en-US", "full_name": "Jordan A. Rivera", "account_reference": "****-4821"},
    )


_COLLECTOR = Collector(
    name="Northbridge Recovery Services, LLC",
    address=("PO Box 4410", "Columbus, OH 43216"),
    phone="1-800-555-0142",
    email="help@northbridge.example",
    website="www.northbridge.example",
)


def test_a_time_barred_california_debt_carries_the_1788_14_d_disclosure_and_no_threat_of_suit() -> None:
    """Cal. Civ. Code 1788.14(d)(1): a written communication about a time-barred debt says the law
    limits how long one can be sued and that, because of its age, the debtor will not be sued;
    12 CFR 1006.26(b): no threat of suit."""
    case = _time_barred_case("US-CA-LIM-OPEN-ENDED", date(2023, 1, 10))
    context = letter_context(case, _COLLECTOR, LETTER_DATE, None)
    assert context.time_barred_citation == "Cal. Civ. Code 1788.14(d)(1)"
    letter = render_letter("us/validation_notice", context)
    text = " ".join(pdf_text(letter).split())
    assert "The law limits how long you can be sued on a debt." in text
    assert "you will not be sued for it." in text
    rest = text.replace(context.time_barred_disclosure or "", "").lower()
    assert not [w for w in _SUIT_WORDS if w in rest]


def test_a_texas_time_barred_debt_carries_the_392_307_notice() -> None:
    """Tex. Fin. Code 392.307(c): the notice on a written communication about a time-barred debt."""
    context = letter_context(
        _time_barred_case("US-TX-LIM-OPEN-ENDED", date(2023, 1, 10)), _COLLECTOR, LETTER_DATE, None
    )
    assert context.time_barred_citation == "Tex. Fin. Code 392.307(c)"
    assert "BECAUSE OF THE AGE OF YOUR DEBT" in (context.time_barred_disclosure or "")


def test_a_debt_not_yet_time_barred_carries_no_disclosure() -> None:
    context = letter_context(
        _time_barred_case("US-CA-LIM-OPEN-ENDED", date(2027, 1, 10)), _COLLECTOR, LETTER_DATE, None
    )
    assert context.time_barred_disclosure is None
    assert "The law limits how long" not in pdf_text(render_letter("us/validation_notice", context))
