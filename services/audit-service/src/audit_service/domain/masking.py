"""The platform's personal-data policy (`dcp_platform.personal_data`), as the audit trail uses it: what
is committed to, and how the API masks it."""

from __future__ import annotations

from dcp_platform.personal_data import (
    is_personal,
    mask,
    mask_email,
    mask_identifier,
    mask_phone,
    mask_text,
    may_hold_personal,
)

__all__ = [
    "is_personal",
    "mask",
    "mask_email",
    "mask_identifier",
    "mask_phone",
    "mask_text",
    "may_hold_personal",
]
