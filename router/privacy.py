"""Masking of personal data (DESIGN §8): phones shown as 138****5678, names as 张*.

Pure functions used by the log processor, dispatch building and the HTTP API.
"""

from __future__ import annotations

import re
from typing import Any

_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)(\d{3,4})(\d{4})(?!\d)")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")

#: log/event keys whose values are personal data as a whole
SENSITIVE_KEYS = frozenset({"phone", "name", "caller_name", "caller_phone", "id_card"})


def mask_phone(phone: str | None) -> str | None:
    """138****5678 for a mobile; keep the area code and last 4 digits of a landline."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "****"


def mask_name(name: str | None) -> str | None:
    """张三 → 张*, 欧阳娜娜 → 欧***."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def mask_text(text: str) -> str:
    """Mask phone numbers and ID-card numbers that appear inside free text."""
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _LANDLINE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def mask_value(key: str, value: Any) -> Any:
    """Mask one structured value: by key for known personal fields, by pattern for free text."""
    if isinstance(value, str):
        if key in SENSITIVE_KEYS:
            return mask_name(value) if "name" in key else mask_phone(value)
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(key, v) for v in value]
    return value
