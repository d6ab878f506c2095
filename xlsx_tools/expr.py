"""The small expression language of the form's rules, and its two targets.

A rule in the form definition says ``when`` and ``check`` as expressions such as
``attendees > 0`` or ``blank(bases) or bases = 0``. The same parsed
expression is evaluated in Python (by ``validate``) and compiled to an Excel
formula (the checks that run inside the workbook), so no rule is written twice.

Logic is three-valued (Kleene): a comparison that involves a blank or unreadable
value is *unknown* (``None``), ``and``/``or``/``not`` propagate it, and a rule
fires only when ``when`` is true and ``check`` is false. The Excel target keeps
the same truth table by compiling every expression to a pair of formulas, "is
true" and "is false", each of which is false when the value is unknown.

Grammar::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := operand (("=" | "!=" | "<" | "<=" | ">" | ">=") operand)?
    operand := NUMBER | 'TEXT' | FIELD | "blank" "(" FIELD ")" | "(" expr ")"
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Mapping, Union

__all__ = [
    "Expr", "Field", "Const", "Compare", "And", "Or", "Not", "Blank",
    "parse", "evaluate", "fields_of", "to_excel", "ExpressionError",
]


class ExpressionError(ValueError):
    """An expression in the form definition cannot be parsed."""


@dataclass(frozen=True)
class Field:
    id: str


@dataclass(frozen=True)
class Const:
    value: Union[Decimal, str]


@dataclass(frozen=True)
class Compare:
    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class And:
    parts: tuple["Expr", ...]


@dataclass(frozen=True)
class Or:
    parts: tuple["Expr", ...]


@dataclass(frozen=True)
class Not:
    part: "Expr"


@dataclass(frozen=True)
class Blank:
    field: Field


Expr = Union[Field, Const, Compare, And, Or, Not, Blank]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|'(?P<text>[^']*)'|(?P<op><=|>=|!=|=|<|>|\(|\))"
    r"|(?P<word>[A-Za-z_][A-Za-z_0-9]*))"
)
_KEYWORDS = {"and", "or", "not", "blank", "true"}


def _tokens(source: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    source = source.rstrip()
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"表达式“{source}”中的“{source[pos:]}”无法识别。")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.tokens = _tokens(source)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ExpressionError(f"表达式“{self.source}”不完整" + (f"：缺少“{value}”。" if value else "。"))
        self.i += 1
        return tok

    def parse(self) -> Expr:
        expr = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"表达式“{self.source}”中多出了“{self.peek()[1]}”。")
        return expr

    def or_(self) -> Expr:
        parts = [self.and_()]
        while self.peek() == ("word", "or"):
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_(self) -> Expr:
        parts = [self.not_()]
        while self.peek() == ("word", "and"):
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def not_(self) -> Expr:
        if self.peek() == ("word", "not"):
            self.take()
            return Not(self.not_())
        return self.compare()

    def compare(self) -> Expr:
        left = self.operand()
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] not in "()":
            self.take()
            return Compare(tok[1], left, self.operand())
        return left

    def operand(self) -> Expr:
        kind, value = self.take()
        if kind == "num":
            return Const(Decimal(value))
        if kind == "text":
            return Const(value)
        if value == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if kind == "word" and value == "blank":
            self.take("(")
            kind, name = self.take()
            self.take(")")
            if kind != "word" or name in _KEYWORDS:
                raise ExpressionError(f"表达式“{self.source}”中 blank() 的括号里应为字段标识。")
            return Blank(Field(name))
        if kind == "word" and value == "true":
            return And(())
        if kind == "word" and value not in _KEYWORDS:
            return Field(value)
        raise ExpressionError(f"表达式“{self.source}”中的“{value}”不能用在这里。")


def parse(source: str) -> Expr:
    """Parse an expression of the form definition."""
    return _Parser(source).parse()


def fields_of(expr: Expr) -> list[str]:
    """The field ids an expression reads, in order of first appearance."""
    seen: list[str] = []

    def walk(e: Expr) -> None:
        if isinstance(e, Field):
            if e.id not in seen:
                seen.append(e.id)
        elif isinstance(e, Blank):
            walk(e.field)
        elif isinstance(e, Compare):
            walk(e.left)
            walk(e.right)
        elif isinstance(e, (And, Or)):
            for p in e.parts:
                walk(p)
        elif isinstance(e, Not):
            walk(e.part)

    walk(expr)
    return seen


# -- Python target -----------------------------------------------------------

_OPS: dict[str, Callable] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def _operand(e: Expr, values: Mapping[str, object]):
    if isinstance(e, Const):
        return e.value
    if isinstance(e, Field):
        v = values.get(e.id)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = Decimal(str(v))
        return v
    raise ExpressionError(f"“{e}”不是一个值。")


def evaluate(expr: Expr, values: Mapping[str, object]) -> bool | None:
    """True, False, or None (unknown) for clean ``values`` (blank = None)."""
    if isinstance(expr, Compare):
        a, b = _operand(expr.left, values), _operand(expr.right, values)
        if a is None or b is None or a == "" or b == "":
            return None
        if isinstance(a, Decimal) != isinstance(b, Decimal):
            return None  # a text against a number: unknown, like Excel's ISNUMBER guard
        return _OPS[expr.op](a, b)
    if isinstance(expr, Blank):
        v = values.get(expr.field.id)
        return v is None or (isinstance(v, str) and not v.strip())
    if isinstance(expr, Not):
        r = evaluate(expr.part, values)
        return None if r is None else not r
    if isinstance(expr, And):
        rs = [evaluate(p, values) for p in expr.parts]
        if False in rs:
            return False
        return None if None in rs else True
    if isinstance(expr, Or):
        rs = [evaluate(p, values) for p in expr.parts]
        if True in rs:
            return True
        return None if None in rs else False
    raise ExpressionError(f"“{expr}”不是一个条件。")


# -- Excel target ------------------------------------------------------------

_NEGATE = {"=": "<>", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_EXCEL_OP = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _xl_const(c: Const) -> str:
    if isinstance(c.value, Decimal):
        return format(c.value, "f")
    return '"' + c.value.replace('"', '""') + '"'


def _known(e: Expr, ref: Callable[[str], str], numeric: bool) -> list[str]:
    if isinstance(e, Field):
        r = ref(e.id)
        return [f"ISNUMBER({r})"] if numeric else [f"LEN(TRIM({r}))>0"]
    return []


def _xl_operand(e: Expr, ref: Callable[[str], str]) -> str:
    return ref(e.id) if isinstance(e, Field) else _xl_const(e)


def _pair(expr: Expr, ref: Callable[[str], str]) -> tuple[str, str]:
    """Formulas (is_true, is_false) for an expression; both FALSE when unknown."""
    if isinstance(expr, Compare):
        numeric = any(isinstance(s, Const) and isinstance(s.value, Decimal)
                      for s in (expr.left, expr.right))
        guards = _known(expr.left, ref, numeric) + _known(expr.right, ref, numeric)
        a, b = _xl_operand(expr.left, ref), _xl_operand(expr.right, ref)
        if not numeric and not any(isinstance(s, Const) for s in (expr.left, expr.right)):
            guards = [f"ISNUMBER({a})", f"ISNUMBER({b})"]  # field against field: numbers
        t = f"{a}{_EXCEL_OP[expr.op]}{b}"
        f = f"{a}{_NEGATE[expr.op]}{b}"
        return "AND(" + ",".join(guards + [t]) + ")", "AND(" + ",".join(guards + [f]) + ")"
    if isinstance(expr, Blank):
        t = f"LEN(TRIM({ref(expr.field.id)}))=0"
        return t, f"NOT({t})"
    if isinstance(expr, Not):
        t, f = _pair(expr.part, ref)
        return f, t
    if isinstance(expr, (And, Or)):
        if not expr.parts:
            return "TRUE", "FALSE"
        pairs = [_pair(p, ref) for p in expr.parts]
        ts = ",".join(p[0] for p in pairs)
        fs = ",".join(p[1] for p in pairs)
        if isinstance(expr, And):
            return f"AND({ts})", f"OR({fs})"
        return f"OR({ts})", f"AND({fs})"
    raise ExpressionError(f"“{expr}”不是一个条件。")


def to_excel(expr: Expr, ref: Callable[[str], str]) -> tuple[str, str]:
    """Compile to Excel formula text (without '='): (is_true, is_false).

    ``ref`` maps a field id to a cell reference such as ``统计表!$C$5``.
    Only functions every spreadsheet program evaluates alike: AND, OR, NOT,
    ISNUMBER, LEN, TRIM.
    """
    return _pair(expr, ref)
