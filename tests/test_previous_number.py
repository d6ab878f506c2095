"""What a 上年 cell holds as a number: one decision for the writer, the in-sheet checks and
the rules (previous.previous_number)."""

from __future__ import annotations

import math
from decimal import Decimal

from _examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from xlsx_tools.previous import previous_number


def test_what_is_no_number():
    for value in (None, True, False, "5", "", float("nan"), float("inf"), -float("inf"), [5]):
        assert previous_number(value) is None, value


def test_a_float_is_the_number_it_shows():
    assert previous_number(0.1 + 0.2) == Decimal("0.3")      # not 0.30000000000000004
    assert previous_number(5.0) == 5 and type(previous_number(5.0)) is int
    assert previous_number(Decimal("1234.5")) == Decimal("1234.5")
    assert previous_number(7) == 7


@settings(max_examples=examples(200))
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_a_float_stays_within_its_tenth_decimal(value):
    number = previous_number(value)
    assert isinstance(number, (int, Decimal))
    assert math.isclose(float(number), value, abs_tol=1e-10)
    if isinstance(number, Decimal):              # a whole number is an int
        assert number != number.to_integral_value()
