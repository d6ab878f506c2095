"""Turn a cell as the filler typed it into the field's clean value, or a finding.

People type numbers as text, in full-width digits, with thousands separators,
spaces, or the field's unit after them; dates in half a dozen Chinese ways or as
Excel date numbers. What can be read without guessing is read; anything else is
reported: a finding code and the variant of its message (the words are the
catalogue's, see catalogue.toml), rendered with the field's title where it is shown.

``clean_value`` never raises for any cell value; its result's ``value`` is None
whenever there is a finding (``code``), so no rule works on a half-read value.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .catalogue import codes_of
from .form import Field
from .read import RawValue

__all__ = ["Cleaned", "clean_value", "normalize_text", "excel_serial_to_date",
           "DATE_MIN", "DATE_MAX", "FINDING_CODES", "shown_value"]

# Dates outside these bounds are not a fill date anyone meant; an Excel serial
# number outside them is more likely a count typed into a date cell.
DATE_MIN = dt.date(1950, 1, 1)
DATE_MAX = dt.date(2099, 12, 31)
_EXCEL_EPOCH = dt.date(1899, 12, 30)   # serial 0 in the 1900 system, after Excel's leap-year bug

# The field-level codes a value itself can give (missing and too_short are the
# checks' own: they need to know whether a field is required, and its length).
FINDING_CODES = tuple(c for c in codes_of("field") if c not in ("missing", "too_short"))

_EXCEL_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                 "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!"}


@dataclass(frozen=True)
class Cleaned:
    """A field's clean value (None if blank or unreadable) and its finding, if any:
    the code, the variant of its message, and what was typed as a person would
    recognise it (the message's {value}; see Form.field_message)."""
    value: object = None
    code: str | None = None
    variant: str | None = None
    shown: str = ""

    @property
    def ok(self) -> bool:
        return self.code is None


def normalize_text(text: str) -> str:
    """Full-width digits, letters, signs and spaces to their plain forms; trimmed.

    NFKC does the width folding (１２ -> 12, ＠ -> @, '　' -> ' '); the minus
    signs NFKC leaves alone are folded by hand.
    """
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2212", "-").replace("\u2012", "-").replace("\u2013", "-")
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\ufeff", "")
    return text.strip()


def _is_blank(value: object) -> bool:
    # A letter or digit is never folded into white space: only a text without one is normalised.
    return value is None or (isinstance(value, str) and not any(ch.isalnum() for ch in value)
                             and not normalize_text(value))


def shown_value(value: object) -> str:
    """The value as the filler would recognise it, for messages."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    text = str(value).strip()
    return text if len(text) <= 30 else text[:30] + "…"


def _finding(code: str, field: Field, value: object, variant: str | None = None) -> Cleaned:
    """A finding about ``field``'s ``value``; the variant defaults to the field's type."""
    return Cleaned(None, code, variant or field.type, shown_value(value))


# -- numbers -----------------------------------------------------------------

# Digits are 0-9 only (re.ASCII): NFKC has folded the full-width ones; other scripts'
# digits (۰, ०) are not something a filler means as a number here.
_NUMBER = re.compile(r"^[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?$", re.ASCII)
# Excel keeps 15 significant digits: a whole part longer than that is not what it shows.
_EXCEL_DIGITS = Decimal(10) ** 15


def _number_text(text: str, units: tuple[str, ...]) -> Decimal | None:
    """'1,234.5', ' 12 ', '12次', '３.５万元' -> Decimal; anything else -> None."""
    text = normalize_text(text)
    for unit in sorted(units, key=len, reverse=True):
        if unit and text.endswith(unit):
            text = text[: -len(unit)].rstrip()
            break
    if not _NUMBER.match(text):
        return None
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _float_decimal(x: float) -> Decimal | None:
    """A number cell's value as the decimal the person typed.

    Excel stores 0.3 as the double nearest to it, and formulas add artefacts such
    as 0.30000000000000004; rounding to 10 places gives back what was typed
    without inventing extra decimals.
    """
    if math.isnan(x) or math.isinf(x):
        return None
    return Decimal(repr(round(x, 10)))


def _number(field: Field, raw: RawValue) -> Decimal | Cleaned:
    v = raw.value
    if isinstance(v, bool):
        return _finding("not_a_number", field, v, "logical")
    if isinstance(v, (dt.datetime, dt.date)) or raw.is_date:
        return _finding("not_a_number", field, v, "as_date")
    if isinstance(v, int):
        d: Decimal | None = Decimal(v)
    elif isinstance(v, float):
        d = _float_decimal(v)
    elif isinstance(v, Decimal):
        d = v if v.is_finite() else None
    else:
        d = _number_text(str(v), field.unit_spellings)
    if d is None:
        return _finding("not_a_number", field, v, "default")
    if abs(d) >= _EXCEL_DIGITS:
        return _finding("not_a_number", field, v, "too_many_digits")
    if d < 0:
        return _finding("negative", field, v)
    return d


def _clean_int(field: Field, raw: RawValue) -> Cleaned:
    d = _number(field, raw)
    if isinstance(d, Cleaned):
        return d
    if d != d.to_integral_value():
        return _finding("not_whole", field, raw.value)
    return Cleaned(int(d))


def _clean_amount(field: Field, raw: RawValue) -> Cleaned:
    d = _number(field, raw)
    if isinstance(d, Cleaned):
        return d
    d = d.normalize() if d else Decimal(0)
    places = max(0, -d.as_tuple().exponent)
    if places > 2:
        return _finding("too_many_decimals", field, raw.value)
    return Cleaned(d.quantize(Decimal(1).scaleb(-places)))


# -- dates -------------------------------------------------------------------

_DATE_TEXT = [
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$", re.ASCII),
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]0{1,2}:00(?::00)?)?$", re.ASCII),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?: 0{1,2}:00(?::00)?)?$", re.ASCII),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$", re.ASCII),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$", re.ASCII),
]


def excel_serial_to_date(serial: float) -> dt.date | None:
    """An Excel (1900 system) serial number to a date, if it is one in range."""
    if isinstance(serial, bool) or not math.isfinite(serial):
        return None
    days = math.floor(serial)
    try:
        d = _EXCEL_EPOCH + dt.timedelta(days=days)
    except OverflowError:
        return None
    return d if DATE_MIN <= d <= DATE_MAX else None


def _date_from_parts(y: str, m: str, d: str) -> dt.date | None:
    try:
        date = dt.date(int(y), int(m), int(d))
    except ValueError:
        return None
    return date if DATE_MIN <= date <= DATE_MAX else None


def _clean_date(field: Field, raw: RawValue) -> Cleaned:
    v = raw.value
    bad = _finding("bad_date", field, v, "default")
    if isinstance(v, bool):
        return bad
    if isinstance(v, dt.datetime):
        d = v.date()
        return Cleaned(d) if DATE_MIN <= d <= DATE_MAX else bad
    if isinstance(v, dt.date):
        return Cleaned(v) if DATE_MIN <= v <= DATE_MAX else bad
    if isinstance(v, (int, float)):
        if isinstance(v, int) or v.is_integer():
            # 20240131 typed as a number: read as the date it spells.
            m = _DATE_TEXT[-1].match(str(int(v)))
            if m:
                d = _date_from_parts(*m.groups())
                return Cleaned(d) if d else bad
        d = excel_serial_to_date(v)
        return Cleaned(d) if d else bad
    text = normalize_text(str(v))
    for pattern in _DATE_TEXT:
        m = pattern.match(text)
        if m:
            d = _date_from_parts(*m.groups())
            return Cleaned(d) if d else bad
    return bad


# -- choices and formats ------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _folded(choices: tuple[str, ...]) -> dict[str, str]:
    """Each choice by its normalised text (the same for every file: worked out once)."""
    return {normalize_text(c): c for c in choices}


def _clean_choice(field: Field, raw: RawValue) -> Cleaned:
    v = raw.value
    if isinstance(v, str):
        typed = normalize_text(v)
        folded = _folded(field.choices)
        if typed in folded:
            return Cleaned(folded[typed])
        # A choice is often written as the table shows it, with its suffix; accept that.
        with_suffix = {normalize_text(field.shown(c)): c for c in field.choices if field.suffix}
        if typed in with_suffix:
            return Cleaned(with_suffix[typed])
    return _finding("not_a_choice", field, v, "default")


def _digits_of_number(v: object) -> str | None:
    """A whole number cell's digits ('13812345678'); None for anything else."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int) and v >= 0:
        return str(v)
    if isinstance(v, float) and math.isfinite(v) and v >= 0 and v.is_integer() and v < 1e16:
        return str(int(v))
    return None


_MOBILE = re.compile(r"^(?:\+?86[- ]?)?(1\d{2})[- ]?(\d{4})[- ]?(\d{4})$", re.ASCII)
_LANDLINE = re.compile(
    r"^(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}[- ]?)\s*\d{7,8}"
    r"(?:\s*(?:-|转|分机|ext\.?|#)\s*\d{1,6})?$", re.I | re.ASCII)
_SERVICE_LINE = re.compile(r"^[48]00[- ]?\d{3}[- ]?\d{4}$", re.ASCII)
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
_POSTCODE = re.compile(r"^\d{6}$", re.ASCII)


def _mobile_digits(text: str) -> str | None:
    m = _MOBILE.match(text)
    return "".join(m.groups()) if m else None


def _clean_mobile(field: Field, raw: RawValue) -> Cleaned:
    v = raw.value
    text = _digits_of_number(v)
    if text is None and isinstance(v, str):
        text = normalize_text(v)
    digits = _mobile_digits(text) if text is not None else None
    if digits:
        return Cleaned(digits)
    return _finding("bad_format", field, v, "mobile")


def _phone_ok(part: str) -> bool:
    return bool(_LANDLINE.match(part) or _MOBILE.match(part) or _SERVICE_LINE.match(part))


def _clean_phone(field: Field, raw: RawValue) -> Cleaned:
    v = raw.value
    digits = _digits_of_number(v)
    if digits is not None:
        # A number cell: a mobile survives; a landline has lost its leading 0.
        if _mobile_digits(digits):
            return Cleaned(digits)
    elif isinstance(v, str):
        text = normalize_text(v)
        # Several numbers are written as 010-68207723/18612691313.
        parts = [p.strip() for p in re.split(r"[/、;,]\s*(?=[0-9(（+])", text)]
        if parts and all(_phone_ok(p) for p in parts):
            return Cleaned(text)
    # In a number cell a landline's leading 0 is lost: say so.
    return _finding("bad_format", field, v, "phone_number_cell" if digits is not None else "phone")


def _clean_email(field: Field, raw: RawValue) -> Cleaned:
    v = raw.value
    if isinstance(v, str):
        text = normalize_text(v)
        if _EMAIL.match(text):
            return Cleaned(text)
    return _finding("bad_format", field, v, "email")


def _clean_postcode(field: Field, raw: RawValue) -> Cleaned:
    v = raw.value
    text = _digits_of_number(v)
    if text is None and isinstance(v, str):
        text = normalize_text(v)
    if text is not None and _POSTCODE.match(text):
        return Cleaned(text)
    return _finding("bad_format", field, v, "postcode")


def _clean_text(field: Field, raw: RawValue) -> Cleaned:
    v = raw.value
    if isinstance(v, str):
        text = v.strip()
    elif isinstance(v, bool):
        text = shown_value(v)
    elif isinstance(v, dt.datetime):
        text = v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    elif isinstance(v, float):
        d = _float_decimal(v)
        text = shown_value(v) if v.is_integer() or d is None else format(d.normalize(), "f")
    else:
        text = str(v).strip()
    return Cleaned(text or None)


_CLEANERS = {
    "int": _clean_int,
    "amount": _clean_amount,
    "date": _clean_date,
    "choice": _clean_choice,
    "phone": _clean_phone,
    "mobile": _clean_mobile,
    "email": _clean_email,
    "postcode": _clean_postcode,
    "text": _clean_text,
    "longtext": _clean_text,
}


def clean_value(field: Field, raw: RawValue | None) -> Cleaned:
    """The clean value of ``field`` from its cell ``raw`` (None: no cell at all).

    Blank gives ``Cleaned(None)`` with no finding: whether a blank is allowed is
    the validator's question (``missing``). A formula without a stored result
    gives ``formula_no_value``; one with a result is read like a typed value.
    """
    if raw is None:
        return Cleaned(None)
    v = raw.value
    if raw.formula is not None and isinstance(v, str) and v.strip() in _EXCEL_ERRORS:
        return _finding("formula_no_value", field, v.strip(), "error")
    if raw.formula is not None and _is_blank(v):
        return _finding("formula_no_value", field, v, "default")
    if _is_blank(v):
        return Cleaned(None)
    if isinstance(v, str) and v.strip() in _EXCEL_ERRORS and field.type not in ("text", "longtext"):
        return _finding(_code_for_type(field), field, v.strip(), "error_value")
    try:
        return _CLEANERS[field.type](field, raw)
    except (ArithmeticError, ValueError, TypeError, OverflowError):
        # Nothing a person types should get here; if it does, it is a finding, not a crash.
        return _finding(_code_for_type(field), field, v, "unreadable")


def _code_for_type(field: Field) -> str:
    """The code of a value a field's type cannot read at all."""
    return {"date": "bad_date", "choice": "not_a_choice"}.get(
        field.type, "not_a_number" if field.numeric else "bad_format")
