"""Canonical forms of the personal identifiers Concierge hashes.

Two channels must produce the same hash for the same person, so the phone
number and the e-mail address are reduced to one spelling before hashing.
Error messages never repeat the value: it is personal data.
"""

import re
from typing import Final

from pydantic_core import PydanticCustomError

E164_PATTERN: Final = r"^\+[1-9][0-9]{6,14}$"
_E164 = re.compile(E164_PATTERN, re.ASCII)
# Visual separators people and forms put in numbers; they carry no meaning.
_PHONE_SEPARATORS = str.maketrans("", "", " -.()\u00a0")

EMAIL_MAX_LENGTH: Final = 254
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalise_phone(raw: str) -> str:
    """E.164 (`+` and 7 to 15 digits), with spaces, hyphens, dots and brackets removed.

    "+44 20 7946 0958" and "+442079460958" are the same number. A national
    trunk prefix written as "(0)" is refused rather than guessed at.
    Raises a ValueError (a PydanticCustomError) when the input is not a phone number.
    """
    if "(0)" in raw:
        raise PydanticCustomError(
            "phone_format", "Phone number must not contain a '(0)' trunk prefix; use E.164"
        )
    compact = raw.strip().translate(_PHONE_SEPARATORS)
    if _E164.fullmatch(compact) is None:
        raise PydanticCustomError(
            "phone_format", "Phone number must be in E.164 form, e.g. +442079460958"
        )
    return compact


def normalise_email(raw: str) -> str:
    """Trimmed and lower-cased; the shape is checked, deliverability is not."""
    email = raw.strip().lower()
    if len(email) > EMAIL_MAX_LENGTH or _EMAIL.fullmatch(email) is None:
        raise PydanticCustomError("email_format", "E-mail address must look like name@example.com")
    return email
