"""Turn a cell as the filler typed it into the field's clean value, or a finding.

People type numbers as text, in full-width digits, with thousands separators,
spaces, or the field's unit after them; dates in half a dozen Chinese ways or as
Excel date numbers. What can be read without guessing is read; anything else is
reported with a Chinese message that names the field and says what to do.

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

from .form import Field
from .read import RawValue

__all__ = ["Cleaned", "clean_value", "normalize_text", "excel_serial_to_date",
           "DATE_MIN", "DATE_MAX", "FINDING_CODES"]

# Dates outside these bounds are not a fill date anyone meant; an Excel serial
# number outside them is more likely a count typed into a date cell.
DATE_MIN = dt.date(1950, 1, 1)
DATE_MAX = dt.date(2099, 12, 31)
_EXCEL_EPOCH = dt.date(1899, 12, 30)   # serial 0 in the 1900 system, after Excel's leap-year bug

FINDING_CODES = ("not_a_number", "not_whole", "negative", "too_many_decimals",
                 "not_a_choice", "bad_format", "bad_date", "formula_no_value")

_EXCEL_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                 "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!"}


@dataclass(frozen=True)
class Cleaned:
    """A field's clean value (None if blank or unreadable) and its finding, if any."""
    value: object = None
    code: str | None = None
    message: str | None = None

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


def _shown(value: object) -> str:
    """The value as the filler would recognise it, for messages."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    text = str(value).strip()
    return text if len(text) <= 30 else text[:30] + "…"


def _finding(code: str, message: str) -> Cleaned:
    return Cleaned(None, code, message)


# -- numbers -----------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?$")
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


def _units_for(field: Field) -> tuple[str, ...]:
    if not field.unit:
        return ()
    if field.unit == "万元":
        return ("万元", "万")
    return (field.unit,)


def _number(field: Field, raw: RawValue) -> Decimal | Cleaned:
    label = field.label
    v = raw.value
    if isinstance(v, bool):
        return _finding("not_a_number", f"“{label}”填写的是逻辑值（{_shown(v)}），不是数字。"
                        f"请填写阿拉伯数字，没有请填 0。")
    if isinstance(v, (dt.datetime, dt.date)) or raw.is_date:
        return _finding("not_a_number", f"“{label}”的内容被表格当成了日期（{_shown(v)}），不是数字。"
                        f"请把单元格格式改为“常规”或“数值”后重新填写数字，没有请填 0。")
    if isinstance(v, int):
        d: Decimal | None = Decimal(v)
    elif isinstance(v, float):
        d = _float_decimal(v)
    elif isinstance(v, Decimal):
        d = v if v.is_finite() else None
    else:
        d = _number_text(str(v), _units_for(field))
    if d is None:
        unit = f"“{field.unit}”" if field.unit else ""
        extra = f"，单位{unit}不用填" if unit else ""
        return _finding("not_a_number", f"“{label}”填写的“{_shown(v)}”不是数字。请只填写阿拉伯数字"
                        f"{extra}，没有请填 0。")
    if abs(d) >= _EXCEL_DIGITS:
        return _finding("not_a_number", f"“{label}”填写的“{_shown(v)}”超过 15 位数字，超出了 Excel 能准确保存的"
                        f"范围。请核对后填写实际的数字，没有请填 0。")
    if d < 0:
        return _finding("negative", f"“{label}”填写的是负数（{_shown(v)}）。请填写 0 或正数，没有请填 0。")
    return d


def _clean_int(field: Field, raw: RawValue) -> Cleaned:
    d = _number(field, raw)
    if isinstance(d, Cleaned):
        return d
    if d != d.to_integral_value():
        return _finding("not_whole", f"“{field.label}”填写的“{_shown(raw.value)}”不是整数。"
                        f"这一项只能填写整数（单位：{field.unit or '个'}），没有请填 0。")
    return Cleaned(int(d))


def _clean_amount(field: Field, raw: RawValue) -> Cleaned:
    d = _number(field, raw)
    if isinstance(d, Cleaned):
        return d
    d = d.normalize() if d else Decimal(0)
    places = max(0, -d.as_tuple().exponent)
    if places > 2:
        return _finding("too_many_decimals", f"“{field.label}”填写的“{_shown(raw.value)}”超过两位小数。"
                        f"金额以万元为单位，最多保留两位小数，请四舍五入后重新填写。")
    return Cleaned(d.quantize(Decimal(1).scaleb(-places)))


# -- dates -------------------------------------------------------------------

_DATE_TEXT = [
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$"),
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]0{1,2}:00(?::00)?)?$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?: 0{1,2}:00(?::00)?)?$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
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
    bad = _finding("bad_date", f"“{field.label}”填写的“{_shown(v)}”不是有效的日期。"
                   f"请按 2022-09-15 的格式填写实际日期。")
    if isinstance(v, bool):
        return bad
    if isinstance(v, dt.datetime):
        d = v.date()
        return Cleaned(d) if DATE_MIN <= d <= DATE_MAX else bad
    if isinstance(v, dt.date):
        return Cleaned(v) if DATE_MIN <= v <= DATE_MAX else bad
    if isinstance(v, (int, float)):
        if isinstance(v, int) or v.is_integer():
            # 20220915 typed as a number: read as the date it spells.
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
        # 平台类别 is often written with its 类 (检验检测类); accept that, and only that.
        if typed.endswith("类") and typed[:-1] in folded and not any(c.endswith("类") for c in folded):
            return Cleaned(folded[typed[:-1]])
    options = "、".join(f"“{c}”" for c in field.choices)
    return _finding("not_a_choice", f"“{field.label}”填写的“{_shown(v)}”不是可选的内容。"
                    f"请点击单元格右侧的下拉箭头，从{options}中选择一项。")


def _digits_of_number(v: object) -> str | None:
    """A whole number cell's digits ('13812345678'); None for anything else."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int) and v >= 0:
        return str(v)
    if isinstance(v, float) and math.isfinite(v) and v >= 0 and v.is_integer() and v < 1e16:
        return str(int(v))
    return None


_MOBILE = re.compile(r"^(?:\+?86[- ]?)?(1\d{2})[- ]?(\d{4})[- ]?(\d{4})$")
_LANDLINE = re.compile(
    r"^(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}[- ]?)\s*\d{7,8}"
    r"(?:\s*(?:-|转|分机|ext\.?|#)\s*\d{1,6})?$", re.I)
_SERVICE_LINE = re.compile(r"^[48]00[- ]?\d{3}[- ]?\d{4}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
_POSTCODE = re.compile(r"^\d{6}$")


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
    return _finding("bad_format", f"“{field.label}”填写的“{_shown(v)}”不是有效的手机号码。"
                    f"请填写以 1 开头的 11 位手机号码，例如 13812345678。")


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
    hint = ("在数字格式的单元格中区号开头的 0 会丢失，请把单元格设为文本后重新填写。"
            if digits is not None else "")
    return _finding("bad_format", f"“{field.label}”填写的“{_shown(v)}”不是有效的电话号码。"
                    f"请按“区号-号码”填写固定电话（如 010-68205243），或填写 11 位手机号码。{hint}")


def _clean_email(field: Field, raw: RawValue) -> Cleaned:
    v = raw.value
    if isinstance(v, str):
        text = normalize_text(v)
        if _EMAIL.match(text):
            return Cleaned(text)
    return _finding("bad_format", f"“{field.label}”填写的“{_shown(v)}”不是有效的电子邮箱地址。"
                    f"请填写完整的邮箱地址，例如 name@example.com。")


def _clean_postcode(field: Field, raw: RawValue) -> Cleaned:
    v = raw.value
    text = _digits_of_number(v)
    if text is None and isinstance(v, str):
        text = normalize_text(v)
    if text is not None and _POSTCODE.match(text):
        return Cleaned(text)
    return _finding("bad_format", f"“{field.label}”中的邮编“{_shown(v)}”不是 6 位数字。"
                    f"请填写 6 位邮政编码，例如 100081；以 0 开头的邮编请把单元格设为文本后填写。")


def _clean_text(field: Field, raw: RawValue) -> Cleaned:
    v = raw.value
    if isinstance(v, str):
        text = v.strip()
    elif isinstance(v, bool):
        text = _shown(v)
    elif isinstance(v, dt.datetime):
        text = v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    elif isinstance(v, float):
        d = _float_decimal(v)
        text = _shown(v) if v.is_integer() or d is None else format(d.normalize(), "f")
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
        return _finding("formula_no_value", f"“{field.label}”中的公式计算出错（{v.strip()}）。"
                        f"请直接填写数值，不要使用公式。")
    if raw.formula is not None and _is_blank(v):
        return _finding("formula_no_value", f"“{field.label}”中填写的是公式，但文件里没有保存公式的结果。"
                        f"请直接填写数值，不要使用公式，然后重新保存。")
    if _is_blank(v):
        return Cleaned(None)
    if isinstance(v, str) and v.strip() in _EXCEL_ERRORS and field.type not in ("text", "longtext"):
        return _finding({"date": "bad_date", "choice": "not_a_choice"}.get(
                            field.type, "not_a_number" if field.numeric else "bad_format"),
                        f"“{field.label}”中是错误值（{v.strip()}）。请直接填写内容，不要粘贴公式的结果"
                        + (f"，从{'、'.join(f'“{c}”' for c in field.choices)}中选择一项。"
                           if field.type == "choice" else "。"))
    try:
        return _CLEANERS[field.type](field, raw)
    except (ArithmeticError, ValueError, TypeError, OverflowError):
        # Nothing a person types should get here; if it does, it is a finding, not a crash.
        code = "not_a_number" if field.numeric else "bad_date" if field.type == "date" else "bad_format"
        return _finding(code, f"“{field.label}”填写的“{_shown(v)}”无法识别，请按填报说明重新填写。")
