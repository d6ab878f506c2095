"""Any value a person can type into a field is either read to the right clean value
or reported, never crashes, and never turns into a different number."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from hypothesis import example, assume, given, settings
from hypothesis import strategies as st
from _examples import examples

from xlsx_tools.clean import DATE_MAX, DATE_MIN, FINDING_CODES, clean_value, normalize_text
from xlsx_tools.form import load_form
from xlsx_tools.read import RawValue

FORM = load_form()


def of_type(t: str):
    fields = [f for f in FORM.fields if f.type == t]
    assert fields, t
    return fields


INTS, AMOUNTS, DATES = of_type("int"), of_type("amount"), of_type("date")
CHOICES = of_type("choice")
FULL_WIDTH = str.maketrans("0123456789.,-", "０１２３４５６７８９．，－")


def cell(value, formula=None, is_date=False) -> RawValue:
    return RawValue(value, "统计表!C5", formula, is_date)


def clean(field, value, **kw):
    return clean_value(field, cell(value, **kw))


def message(field, result) -> str:
    """The finding's message as validate words it (the form's catalogue)."""
    return FORM.field_message(result.code, field.id, result.variant, value=result.shown)


def names_the_field(field, result) -> bool:
    return FORM.field_title(field.id) in message(field, result)


# -- how people type a number --------------------------------------------------------

def renderings(d: Decimal, unit: str) -> st.SearchStrategy:
    """A non-negative decimal as a person may type it, as text or as a number cell."""
    plain = format(d, "f")
    whole, _, frac = plain.partition(".")
    grouped = f"{int(whole):,}" + (f".{frac}" if frac else "")
    texts = [plain, grouped, plain.translate(FULL_WIDTH), grouped.translate(FULL_WIDTH),
             f" {plain} ", f"\u3000{plain}\u3000", f"+{plain}"]
    if unit:
        texts += [plain + unit, grouped + " " + unit, plain.translate(FULL_WIDTH) + unit]
        if unit == "万元":
            texts += [plain + "万"]
    cells = [float(d)] + ([int(d)] if d == int(d) else [])
    return st.sampled_from(texts + cells)


@settings(max_examples=examples(150))
@given(field=st.sampled_from(INTS), n=st.integers(0, 10**12), data=st.data())
def test_whole_numbers_typed_any_usual_way_read_to_the_same_number(field, n, data):
    typed = data.draw(renderings(Decimal(n), field.unit))
    if data.draw(st.booleans()) and isinstance(typed, str):
        typed = f"{typed}"
    result = clean(field, typed)
    assert (result.value, result.code) == (n, None), typed


@settings(max_examples=examples(200))
@given(field=st.sampled_from(INTS), n=st.integers(0, 10**9), data=st.data())
def test_whole_number_with_trailing_zero_decimals_is_whole(field, n, data):
    zeros = data.draw(st.integers(1, 3))
    assert clean(field, f"{n}." + "0" * zeros).value == n


@settings(max_examples=examples(200))
@given(field=st.sampled_from(INTS), d=st.decimals(min_value=0, max_value=10**6, places=3,
                                                 allow_nan=False))
def test_fractions_are_not_whole_and_give_no_value(field, d):
    assume(d != d.to_integral_value())
    for typed in (format(d, "f"), float(d)):
        assert (clean(field, typed).code, clean(field, typed).value) == ("not_whole", None)


@settings(max_examples=examples(200))
@given(field=st.sampled_from(INTS + AMOUNTS), n=st.integers(1, 10**9))
def test_negative_numbers_are_reported(field, n):
    for typed in (-n, float(-n), f"-{n}", f"－{n}", f"\u2212{n}", f"-{n:,}"):
        result = clean(field, typed)
        assert (result.code, result.value) == ("negative", None), typed


@settings(max_examples=examples(300))
@given(field=st.sampled_from(AMOUNTS),
       d=st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False), data=st.data())
def test_amounts_up_to_two_decimals_read_exactly(field, d, data):
    typed = data.draw(renderings(d, field.unit))
    result = clean(field, typed)
    assert result.code is None and result.value == d, (typed, result)


@settings(max_examples=examples(200))
@given(field=st.sampled_from(AMOUNTS),
       d=st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False))
def test_amounts_with_more_than_two_decimals_are_reported(field, d):
    assume(d != d.quantize(Decimal("0.01")))
    for typed in (format(d, "f"), float(d)):
        assert clean(field, typed).code == "too_many_decimals", typed


@settings(max_examples=examples(200))
@given(field=st.sampled_from(AMOUNTS),
       parts=st.lists(st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False),
                      min_size=1, max_size=6))
def test_float_sums_of_two_decimal_amounts_are_not_too_many_decimals(field, parts):
    """=0.1+0.2 stores 0.30000000000000004; that is 0.3, not a third decimal."""
    total = 0.0
    for p in parts:
        total += float(p)
    result = clean(field, total, formula="SUM(...)")
    assert result.code is None and result.value == sum(parts)


@settings(max_examples=examples(200))
@given(field=st.sampled_from(INTS + AMOUNTS), text=st.text(max_size=30))
@example(field=INTS[0], text="۰")       # a digit of another script is not read as a number
@example(field=INTS[0], text="२०२२")
def test_any_text_in_a_number_field_is_the_number_it_spells_or_a_finding(field, text):
    result = clean(field, text)
    assert result.code in (None, *FINDING_CODES)
    if result.code is not None:
        assert result.value is None and names_the_field(field, result)
        return
    if result.value is None:
        assert not normalize_text(text)
        return
    # Read without a finding: its digits are the digits typed, nothing added or dropped.
    spelled = re.sub(r"[^0-9.]", "", normalize_text(text))
    assert Decimal(spelled) == Decimal(result.value)


def test_numbers_in_the_forms_people_use():
    f = INTS[0]
    unit = f.unit
    for typed, want in [("12", 12), ("１２", 12), ("1,234", 1234), (" 12 ", 12), ("12.0", 12),
                        (f"12{unit}", 12), (12.0, 12), (12, 12)]:
        assert clean(f, typed).value == want, typed
    for typed, code in [("12.5", "not_whole"), ("-3", "negative"), ("abc", "not_a_number"),
                        ("1,2", "not_a_number"), ("12,34", "not_a_number"), ("1e3", "not_a_number"),
                        ("十二", "not_a_number"), (True, "not_a_number"), ("12个半", "not_a_number"),
                        (float("nan"), "not_a_number"), (float("inf"), "not_a_number")]:
        assert clean(f, typed).code == code, typed
    a = AMOUNTS[0]
    for typed, want in [("3.5万元", Decimal("3.5")), ("3.5万", Decimal("3.5")),
                        ("1,234.50", Decimal("1234.5")), (0.1 + 0.2, Decimal("0.3")),
                        (256.78, Decimal("256.78"))]:
        assert clean(a, typed).value == want, typed
    assert clean(a, "35000元").code == "not_a_number"   # 元 is not 万元: never converted by guess
    assert clean(a, 1.234).code == "too_many_decimals"


def test_a_date_in_a_number_field_is_not_read_as_its_serial_number():
    result = clean(INTS[0], dt.datetime(2022, 3, 4), is_date=True)
    assert (result.code, result.variant) == ("not_a_number", "as_date")


def test_number_messages_say_what_to_do():
    for f in INTS + AMOUNTS:
        for typed in ("abc", "-1"):
            result = clean(f, typed)
            assert names_the_field(f, result) and "请" in message(f, result)


# -- dates --------------------------------------------------------------------------

def excel_serial(d: dt.date) -> int:
    return (d - dt.date(1899, 12, 30)).days


@settings(max_examples=examples(150))
@given(field=st.sampled_from(DATES), d=st.dates(DATE_MIN, DATE_MAX), data=st.data())
def test_dates_typed_any_usual_way_read_to_the_same_date(field, d, data):
    y, m, day = d.year, d.month, d.day
    typed = data.draw(st.sampled_from([
        dt.datetime(y, m, day), dt.datetime(y, m, day, 13, 5), excel_serial(d), float(excel_serial(d)) + 0.25,
        f"{y}年{m}月{day}日", f"{y}年{m:02d}月{day:02d}日", f"{y}/{m}/{day}", f"{y}-{m}-{day}",
        f"{y}.{m}.{day}", f"{y}-{m:02d}-{day:02d}", f" {y}年{m}月{day}日 ",
        f"{y}年{m}月{day}日".translate(FULL_WIDTH), f"{y}{m:02d}{day:02d}", int(f"{y}{m:02d}{day:02d}"),
    ]))
    result = clean(field, typed)
    assert (result.value, result.code) == (d, None), typed


@pytest.mark.parametrize("typed", ["2022-02-30", "2022年13月1日", "2022/9/31", "二〇二二年九月十五日",
                                   "9/15/2022", "15.9.2022", "2022-9", "明天", "44819", True, 12,
                                   -5, 10**9, "1800-01-01"])
def test_dates_that_cannot_be_read_are_reported(typed):
    result = clean(DATES[0], typed)
    assert (result.code, result.value) == ("bad_date", None)
    assert names_the_field(DATES[0], result)


# -- choices and formats ----------------------------------------------------------------

@given(field=st.sampled_from(CHOICES), data=st.data())
def test_choices_read_after_trimming_and_width_folding(field, data):
    choice = data.draw(st.sampled_from(field.choices))
    typed = data.draw(st.sampled_from([choice, f" {choice} ", f"\u3000{choice}",
                                       choice.replace("，", ",")]))
    assert clean(field, typed).value == choice


@given(field=st.sampled_from(CHOICES), text=st.text(max_size=12))
@example(field=CHOICES[0], text="#REF!")   # an error value pasted in: still say what to choose
def test_anything_else_in_a_choice_field_is_not_a_choice(field, text):
    assume(normalize_text(text) and all(normalize_text(text) != normalize_text(c) for c in field.choices))
    shown = {normalize_text(field.shown(c)) for c in field.choices}
    assume(not (field.suffix and normalize_text(text) in shown))
    result = clean(field, text)
    assert result.code == "not_a_choice" and all(c in message(field, result) for c in field.choices)


def test_a_choice_written_with_its_suffix():
    f = FORM.field(FORM.keys["category"])
    assert f.suffix
    for choice in f.choices:
        assert clean(f, f.shown(choice)).value == choice
    assert clean(f, f.suffix).code == "not_a_choice"
    # Only the field that has a suffix takes it: a 是/否 answer written 否类 is no answer.
    yes_no = next(x for x in CHOICES if not x.suffix)
    assert clean(yes_no, yes_no.choices[0] + f.suffix).code == "not_a_choice"


@pytest.mark.parametrize("type_, typed, want", [
    ("phone", "010-68205243", "010-68205243"), ("phone", "(010)68205243", "(010)68205243"),
    ("phone", "0755 86001234", "0755 86001234"), ("phone", "010-68205243转8001", "010-68205243转8001"),
    ("phone", "010-68207723/18612691313", "010-68207723/18612691313"),
    ("phone", 13812345678, "13812345678"), ("phone", "400-810-8888", "400-810-8888"),
    ("phone", "０１０－６８２０５２４３", "010-68205243"),
    ("mobile", 13812345678, "13812345678"), ("mobile", 13812345678.0, "13812345678"),
    ("mobile", "138 1234 5678", "13812345678"), ("mobile", "+86 13812345678", "13812345678"),
    ("mobile", "１３８１２３４５６７８", "13812345678"),
    ("email", " Zhang.San@Example.com ", "Zhang.San@Example.com"), ("email", "a＠b.cn", "a@b.cn"),
    ("postcode", 100081, "100081"), ("postcode", "100081", "100081"), ("postcode", 100081.0, "100081"),
    ("postcode", "０１００８１", "010081"),
])
def test_formats_accepted(type_, typed, want):
    f = of_type(type_)[0]
    assert (clean(f, typed).value, clean(f, typed).code) == (want, None)


@pytest.mark.parametrize("type_, typed", [
    ("phone", 1068205243), ("phone", "68205243"), ("phone", "010-123"), ("phone", "电话"),
    ("phone", "010-68205243,8001"),
    ("mobile", 1381234567), ("mobile", "23812345678"), ("mobile", "138123456789"), ("mobile", "010-68205243"),
    ("email", "zhangsan"), ("email", "a@b"), ("email", "a b@c.cn"), ("email", 12),
    ("postcode", 10081), ("postcode", "10008"), ("postcode", "1000811"), ("postcode", "北京"),
    ("postcode", True),
])
def test_formats_rejected(type_, typed):
    f = of_type(type_)[0]
    result = clean(f, typed)
    assert (result.code, result.value) == ("bad_format", None) and names_the_field(f, result)


def test_text_is_stripped_and_blank_is_none():
    for t in ("text", "longtext"):
        f = of_type(t)[0]
        assert clean(f, "  某某研究院\n").value == "某某研究院"
        assert clean(f, " \u3000 ").value is None
        assert clean(f, 12.0).value == "12"


# -- formulas, blanks, anything at all -----------------------------------------------------

def test_formula_without_a_stored_result_is_reported_and_with_one_is_read():
    f = INTS[0]
    assert clean(f, None, formula="A1+B1").code == "formula_no_value"
    assert clean(f, "", formula="A1+B1").code == "formula_no_value"
    assert clean(f, 7.0, formula="A1+B1").value == 7
    assert clean(f, "#DIV/0!", formula="A1/0").code == "formula_no_value"
    assert clean(f, None).code is None and clean(f, None).value is None
    assert clean_value(f, None).value is None


ANY_CELL = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)),
    st.decimals(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=examples(300))
@given(field=st.sampled_from(FORM.fields), value=ANY_CELL, formula=st.none() | st.text(max_size=5),
       is_date=st.booleans())
def test_any_cell_value_in_any_field_never_crashes(field, value, formula, is_date):
    result = clean(field, value, formula=formula, is_date=is_date)
    assert result.code in (None, *FINDING_CODES)
    if result.code is not None:
        assert result.value is None
        assert names_the_field(field, result)
        assert re.search(r"[\u4e00-\u9fff]", message(field, result))
    elif result.value is not None:
        want = {"int": int, "amount": Decimal, "date": dt.date}.get(field.type, str)
        assert isinstance(result.value, want)
