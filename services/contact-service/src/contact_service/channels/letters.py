"""The letter channel's rendering: a jurisdiction's letter template and a case's figures become the HTML,
the PDF (the same bytes for the same letter) and the print file a mail house prints and posts."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import tempfile
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol, is_currency
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

# WeasyPrint reports each rendering step (and, on import, parsing its own style sheets) at INFO: a letter
# run would fill the service's log with them. It is imported on the first letter, not at start-up.
logging.getLogger("weasyprint").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Itemization:
    """Regulation F 1006.34(c)(2): what was owed on the itemization date and what changed it since, in
    integer minor units of the letter's currency."""

    itemization_date: date
    amount_at_itemization: int
    interest: int
    fees: int
    payments: int
    credits: int

    def __post_init__(self) -> None:
        # The notice prints charges after a plus sign and payments and credits after a minus sign: a negative
        # figure would print with two signs and the lines would no longer read as adding up to the total.
        for name in ("interest", "fees", "payments", "credits"):
            if getattr(self, name) < 0:
                raise ValueError(f"itemization {name} must not be negative, got {getattr(self, name)}")

    @property
    def paid_or_credited(self) -> int:
        """The model notice shows payments and credits as one line."""
        return self.payments + self.credits

    @property
    def current_amount(self) -> int:
        return self.amount_at_itemization + self.interest + self.fees - self.payments - self.credits


@dataclass(frozen=True)
class LetterContext:
    """What a letter says about one case; amounts are integer minor units of `currency`."""

    case_id: str
    account_reference: str
    debtor_name: str
    mailing_address: tuple[str, ...]
    creditor_name: str
    original_creditor: str | None
    collector_name: str
    collector_address: tuple[str, ...]
    collector_phone: str
    collector_email: str
    collector_website: str
    currency: str
    language: str
    letter_date: date
    itemization: Itemization | None = None
    balance: int | None = None
    arrears: int | None = None
    missed_payments: int | None = None
    due_date: date | None = None
    validation_period_end: date | None = None
    breathing_space_start: date | None = None
    breathing_space_reference: str | None = None
    opt_out_url: str | None = None
    dispute_received_on: date | None = None
    verification_documents: tuple[str, ...] | None = None
    time_barred_disclosure: str | None = None
    """The debt is time-barred: the disclosure its state requires (a time-barred letter never
    threatens suit, 12 CFR 1006.26(b))."""
    time_barred_citation: str | None = None


@dataclass(frozen=True)
class RenderedLetter:
    template_id: str
    html: str
    pdf: bytes
    sha256: str
    page_count: int


@dataclass(frozen=True)
class PrintFile:
    path: Path
    sha256: str
    count: int


class UnknownLetterTemplate(LookupError):
    """No letter template has this id."""


class LetterContextError(ValueError):
    """The context leaves out something the letter cannot be written without."""


# The letter templates, each with the context fields it cannot be written without (beyond those every
# letter has). A None there would print as "None" or fail deep inside a template, so it is refused first.
TEMPLATES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "us/validation_notice": ("itemization", "validation_period_end"),
        "us/verification": ("itemization", "dispute_received_on"),
        "gb/arrears_notice": ("arrears", "balance", "missed_payments"),
        "gb/breathing_space_acknowledgement": (
            "breathing_space_reference",
            "breathing_space_start",
            "balance",
        ),
        "cn/repayment_reminder": ("balance", "due_date"),
    }
)

_TEMPLATE_DIRECTORY = Path(__file__).parent / "templates"
_MANIFEST_COLUMNS = ("letter_id", "case_id", "template_id", "recipient_name", "address", "pages", "sha256")


@pass_context
def _money(context: Context, minor: int) -> str:
    currency: str = context["currency"]
    amount = Decimal(minor).scaleb(-get_currency_precision(currency))
    return format_currency(amount, currency, locale=context["locale"])


@pass_context
def _longdate(context: Context, day: date) -> str:
    return format_date(day, "long", locale=context["locale"])


_ENVIRONMENT = Environment(
    loader=PackageLoader("contact_service.channels", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
)
_ENVIRONMENT.filters["money"] = _money
_ENVIRONMENT.filters["longdate"] = _longdate


def template_for(jurisdiction: str, kind: str) -> str:
    """The template id of a kind of letter in a jurisdiction: ("US", "validation_notice") ->
    "us/validation_notice"."""
    template_id = f"{jurisdiction.lower()}/{kind}"
    _needs(template_id)
    return template_id


def render_letter(template_id: str, context: LetterContext) -> RenderedLetter:
    missing = [name for name in _needs(template_id) if getattr(context, name) is None]
    if missing:
        raise LetterContextError(f"{template_id} needs {', '.join(missing)}, which the context leaves out")
    if not is_currency(context.currency):
        raise LetterContextError(f"currency {context.currency!r} is not an ISO 4217 code")
    locale = _locale(context.language)
    values: dict[str, Any] = {field.name: getattr(context, field.name) for field in fields(context)}
    html = _ENVIRONMENT.get_template(f"letters/{template_id}.html.j2").render(
        values,
        template_id=template_id,
        locale=locale,
        currency_symbol=get_currency_symbol(context.currency, locale=locale),
    )
    # The dates in the PDF's metadata come from the template's dcterms.created/modified, the embedded fonts'
    # from _fonts_dated and the file identifier from the HTML: the same letter is the same bytes every run.
    with _fonts_dated(context.letter_date):
        import weasyprint

        document = weasyprint.HTML(string=html, base_url=_TEMPLATE_DIRECTORY.as_uri()).render()
        pdf: bytes = document.write_pdf(pdf_identifier=hashlib.sha256(html.encode()).hexdigest()[:32])
    return RenderedLetter(
        template_id=template_id,
        html=html,
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
        page_count=len(document.pages),
    )


def write_letter(directory: Path, letter_id: str, letter: RenderedLetter) -> Path:
    """Write the letter's PDF as <directory>/<letter_id>.pdf; a reader never sees half a file."""
    path = directory / _file_name(letter_id, ".pdf")
    _write_atomically(path, letter.pdf)
    return path


def write_print_file(
    directory: Path, batch_id: str, letters: Sequence[tuple[str, LetterContext, RenderedLetter]]
) -> PrintFile:
    """Write <directory>/<batch_id>.zip for the mail house: manifest.csv (one row per letter, in the
    order of the PDFs) then each letter as <letter_id>.pdf, sorted by letter id. The entries are dated
    by the batch's latest letter date, so the same batch is the same bytes on every run."""
    if not letters:
        raise ValueError(f"print file {batch_id!r} has no letters")
    counts = Counter(letter_id for letter_id, _, _ in letters)
    duplicates = sorted(letter_id for letter_id, count in counts.items() if count > 1)
    if duplicates:
        raise ValueError(f"print file {batch_id!r} has letter ids more than once: {', '.join(duplicates)}")
    ordered = sorted(letters, key=lambda entry: entry[0])
    batch_date = max(context.letter_date for _, context, _ in letters)
    date_time = (batch_date.year, batch_date.month, batch_date.day, 0, 0, 0)

    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(_MANIFEST_COLUMNS)
    for letter_id, context, letter in ordered:
        writer.writerow(
            (
                letter_id,
                context.case_id,
                letter.template_id,
                context.debtor_name,
                " | ".join(context.mailing_address),
                letter.page_count,
                hashlib.sha256(letter.pdf).hexdigest(),
            )
        )

    archive_bytes = io.BytesIO()
    with zipfile.ZipFile(archive_bytes, "w") as archive:
        archive.writestr(_zip_entry("manifest.csv", date_time), manifest.getvalue().encode())
        for letter_id, _, letter in ordered:
            archive.writestr(_zip_entry(_file_name(letter_id, ".pdf"), date_time), letter.pdf)
    data = archive_bytes.getvalue()
    path = directory / _file_name(batch_id, ".zip")
    _write_atomically(path, data)
    return PrintFile(path=path, sha256=hashlib.sha256(data).hexdigest(), count=len(ordered))


_SOURCE_DATE_EPOCH_LOCK = threading.Lock()


@contextmanager
def _fonts_dated(day: date) -> Iterator[None]:
    """Date the fonts embedded while rendering by the letter date. Without HarfBuzz-Subset, WeasyPrint
    subsets fonts with fontTools, which stamps each with the time it was saved unless SOURCE_DATE_EPOCH
    (the reproducible-builds convention) says otherwise. The variable is process-wide, so it is set under
    a lock and put back after."""
    epoch = str(int(datetime.combine(day, time(), tzinfo=UTC).timestamp()))
    with _SOURCE_DATE_EPOCH_LOCK:
        previous = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = epoch
        try:
            yield
        finally:
            if previous is None:
                del os.environ["SOURCE_DATE_EPOCH"]
            else:
                os.environ["SOURCE_DATE_EPOCH"] = previous


def _needs(template_id: str) -> tuple[str, ...]:
    try:
        return TEMPLATES[template_id]
    except KeyError:
        raise UnknownLetterTemplate(
            f"no letter template {template_id!r}; the known ones are {', '.join(sorted(TEMPLATES))}"
        ) from None


def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language.replace("-", "_"))
    except (ValueError, UnknownLocaleError) as error:
        raise LetterContextError(
            f"language {language!r} is not a locale letters can be written in"
        ) from error


def _file_name(name: str, suffix: str) -> str:
    # Ids become file names, in the directory and inside the print file: one that climbs out of either
    # (a slash, "..", a hidden name) is refused.
    if not name or name != Path(name).name or name.startswith("."):
        raise ValueError(f"{name!r} cannot name a file: it must be a plain name without directories")
    return name + suffix


def _zip_entry(name: str, date_time: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time)
    entry.compress_type = zipfile.ZIP_DEFLATED
    # ZipInfo takes these from the machine that writes it; fixed, the archive's bytes do not depend on it.
    entry.create_system = 3
    entry.external_attr = 0o644 << 16
    return entry


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)
