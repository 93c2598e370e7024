"""The platform's one policy of personal data: what is personal (names, national ids, addresses, contact
points, any text holding a phone number or an e-mail address), how it is masked in what the APIs show,
and which roles see it unmasked. Every service applies it; the audit trail commits to the same fields."""

from __future__ import annotations

import re
from typing import Any, Final

_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL = re.compile(r"[^@\s\"']+@[^@\s\"']+\.[^@\s\"']+")
_ID_KEYS = frozenset({"national_id", "nationalid", "ssn", "tax_id", "passport_number"})
_PERSONAL_KEYS = _ID_KEYS | frozenset(
    {
        "full_name",
        "first_name",
        "last_name",
        "date_of_birth",
        "lines",
        "city",
        "region",
        "postal_code",
        "contact_point",
        "address",
        "note_text",  # a case note: what a person said or is going through
        "vulnerability_sub_type",  # a vulnerability's details (health: special category data)
        "vulnerability_description",
        "line_item",  # a line of a debtor's income and expenditure statement (with its amounts)
    }
)


ERASED: Final = "[erased]"
"""What a personal value becomes once erased or redacted: no personal data any more."""


def is_personal(key: str | None, value: str) -> bool:
    """The one policy of what is personal data in the trail: a field named as such (names, national
    ids, addresses, contact points), or any text holding a phone number or an e-mail address; never
    the erased mark."""
    if value == ERASED:
        return False
    if key in _PERSONAL_KEYS or (key is not None and not key.islower() and key.lower() in _PERSONAL_KEYS):
        return True
    return ("+" in value and _PHONE.search(value) is not None) or (
        "@" in value and _EMAIL.search(value) is not None
    )


def mask_phone(number: str) -> str:
    """+447700900123 -> +44*******123: country code and last three digits stay, for recognition."""
    return number[:3] + "*" * max(len(number) - 6, 0) + number[-3:]


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def mask_identifier(value: str) -> str:
    return "*" * max(len(value) - 2, 1) + value[-2:] if len(value) > 2 else "**"


def mask_text(text: str) -> str:
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


def mask(value: Any, key: str | None = None) -> Any:
    """A copy of a JSON value with personal data masked wherever it appears."""
    if isinstance(value, dict):
        return {k: mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    if isinstance(value, str):
        if key is not None and key.lower() in _ID_KEYS:
            return mask_identifier(value)
        masked = mask_text(value)
        if masked == value and key is not None and key.lower() in _PERSONAL_KEYS:
            return mask_identifier(value)  # names and addresses: the last two characters stay
        return masked
    return value


_PERSONAL_FIELD = re.compile(
    rb'"(?:' + b"|".join(re.escape(k.encode()) for k in sorted(_PERSONAL_KEYS)) + rb')"\s*:\s*["\[{]'
)


def may_hold_personal(raw: bytes) -> bool:
    """False only when a JSON text certainly holds no personal data by `is_personal`: no field named as
    personal (in any case) with a text, list or object value, no `+` or `@`, no escape that could spell
    them. Such an event need not be walked (most events: a contact outcome with no contact point, a
    payment)."""
    if b"+" in raw or b"@" in raw or b"\\u" in raw:
        return True
    return _PERSONAL_FIELD.search(raw.lower()) is not None


DEFAULT_ROLES = frozenset({"collector", "supervisor", "admin", "dialer"})
"""Roles that see personal data unmasked by default (they contact and manage debtors: a dialer needs
the number it dials); auditors and integrations see it masked (`PII_ROLES` changes the set)."""


def roles_from(text: str | None) -> frozenset[str]:
    if text is None:
        return DEFAULT_ROLES
    return frozenset(r.strip() for r in text.split(",") if r.strip())
