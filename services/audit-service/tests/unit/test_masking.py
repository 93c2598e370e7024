"""Personal data masking (no I/O)."""

from __future__ import annotations

from audit_service.domain.masking import mask, mask_email, mask_phone


def test_phone_numbers_emails_and_national_ids_are_masked_wherever_they_appear() -> None:
    event = {
        "data": {
            "debtor": {
                "full_name": "Siân",
                "national_id": "AB123456C",
                "phones": [{"number": "+447700900123", "kind": "mobile"}],
                "emails": [{"address": "sian@example.org"}],
            },
            "contact_point": "+447700900123",
            "note": "call +14155550100 or mail x.y@corp.example.com",
        }
    }
    masked = mask(event)
    text = str(masked)
    for secret in ("447700900123", "sian@", "AB123456C", "4155550100", "x.y@"):
        assert secret not in text
    assert masked["data"]["debtor"]["national_id"].endswith("6C")
    assert masked["data"]["debtor"]["phones"][0]["number"] == mask_phone("+447700900123") == "+44*******123"
    assert mask_email("sian@example.org") == "s***@example.org"
    assert masked["data"]["debtor"]["full_name"] == "**ân"  # names are personal data too
    assert event["data"]["contact_point"] == "+447700900123"  # the original is untouched
