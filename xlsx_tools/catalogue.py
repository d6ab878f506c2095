"""The catalogue of finding codes: one place for what a person reads about a finding.

Each code has a severity, a title (the 代码 column: 未填写 for ``missing``, R01 for a
rule) and message templates, one per variant (see ``catalogue.toml``). The checks
of ``clean`` and ``rules``, the checks compiled into the workbook (``incell``), the
reports and the merge all render their messages here, so one code says one thing
wherever it is read.

:data:`CATALOGUE` holds the toolkit's own codes. Each form definition gets a
:meth:`Catalogue.child` of it: the codes of its rules are registered there, its
``[catalogue]`` table overrides entries, and its dates fill ``{example_date}`` and
``{window}``. The reader's refusals (``source="reader"``) and the later stages'
(``source="stage"``) are codes of the catalogue too, titled 无法读取.

This module depends on nothing else of the package.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Iterable, Mapping

__all__ = ["Code", "Catalogue", "CatalogueError", "CATALOGUE", "SEVERITIES", "STATUSES", "render",
           "status_word", "status_meaning"]

SEVERITIES = ("error", "warning")
DEFAULT = "default"
# The title of a code nobody registered: told by its message, as a file that cannot be read.
UNREGISTERED = "unreadable"
# The sources whose codes a clerk is shown (R01, R18, M01...), not only their titles.
RULE_SOURCES = ("rule", "workbook", "merge", "change")


class CatalogueError(ValueError):
    """Two definitions of one code disagree, or an entry is malformed (Chinese message)."""


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    title: str
    messages: Mapping[str, str] = field(default_factory=dict)   # variant -> template
    source: str = ""    # field | rule | workbook | merge | reader | stage: who raises it
    # Variants of another severity than the code's (an old form version is only a warning).
    variant_severities: Mapping[str, str] = field(default_factory=dict)
    # A rule's short Chinese name beside its code on the pages (R18 文件名不符); "" when none.
    name: str = ""

    def __post_init__(self) -> None:
        for severity in (self.severity, *self.variant_severities.values()):
            if severity not in SEVERITIES:
                raise CatalogueError(f"代码 {self.code} 的严重程度“{severity}”无效，应为 error 或 warning。")


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(template: str, params: Mapping[str, object], keep_unknown: bool = False) -> str:
    """Fill ``{name}`` placeholders; an unknown one is left as it is (``keep_unknown``)
    or shown empty."""
    def fill(m: re.Match) -> str:
        name = m.group(1)
        if name in params:
            return str(params[name])
        return m.group(0) if keep_unknown else ""
    return _PLACEHOLDER.sub(fill, template)


def placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


class Catalogue:
    """Codes by name, with the words of the field types and the severities.

    A child looks up what it does not hold in its parent, so registering into a
    form's catalogue never changes the toolkit's.
    """

    def __init__(self, parent: Catalogue | None = None, context: Mapping[str, object] | None = None):
        self.parent = parent
        self.context: dict[str, object] = dict(context or {})
        self._codes: dict[str, Code] = {}
        self._types: dict[str, dict[str, str]] = {}
        self._phrases: dict[str, str] = {}
        self._severities: dict[str, str] = {}

    # -- building ---------------------------------------------------------------

    def child(self, context: Mapping[str, object] | None = None) -> Catalogue:
        return Catalogue(self, {**self.all_context(), **(context or {})})

    def register(self, code: str, severity: str, title: str | None = None,
                 messages: Mapping[str, str] | None = None, source: str = "") -> Code:
        """Add a code, or add messages to a code already known with the same severity.

        A code registered twice with another severity, or a variant with another
        text, is a :class:`CatalogueError`.
        """
        known = self.get(code)
        if known is None:
            entry = Code(code, severity, title or code, dict(messages or {}), source)
        else:
            if known.severity != severity:
                raise CatalogueError(
                    f"代码 {code} 的严重程度前后不一致（{known.severity} 与 {severity}）。")
            merged = dict(known.messages)
            for variant, text in (messages or {}).items():
                if variant in merged and merged[variant] != text:
                    raise CatalogueError(f"代码 {code} 的说明“{variant}”有两种不同的写法。")
                merged[variant] = text
            entry = Code(code, severity, title or known.title, merged, known.source or source,
                         known.variant_severities, known.name)
        self._codes[code] = entry
        return entry

    def override(self, table: Mapping[str, Any]) -> None:
        """Replace entries with the ones of a table shaped like catalogue.toml
        (but its statuses, which every command and form says alike)."""
        if "statuses" in table:
            raise CatalogueError("状态的说法（[catalogue.statuses]）在各命令和各表单中都一样，"
                                 "不能在表单定义中改。")
        for name, raw in (table.get("codes") or {}).items():
            known = self.get(name)
            severity = raw.get("severity", known.severity if known else None)
            if severity is None:
                raise CatalogueError(f"[catalogue.codes.{name}] 缺少 severity。")
            messages = {**(known.messages if known else {}), **raw.get("messages", {})}
            self._codes[name] = Code(
                name, severity, raw.get("title", known.title if known else name), messages,
                raw.get("source", known.source if known else ""),
                {**(known.variant_severities if known else {}), **raw.get("severities", {})},
                raw.get("name", known.name if known else ""))
        for name, words in (table.get("types") or {}).items():
            self._types[name] = {**self.type_words(name), **words}
        self._phrases.update(table.get("phrases") or {})
        self._severities.update(table.get("severities") or {})

    # -- looking up -------------------------------------------------------------

    def get(self, code: str) -> Code | None:
        if code in self._codes:
            return self._codes[code]
        return self.parent.get(code) if self.parent is not None else None

    def codes(self, source: str | None = None) -> dict[str, Code]:
        """Every code known here (and above), optionally only those of one source."""
        out = dict(self.parent.codes()) if self.parent is not None else {}
        out.update(self._codes)
        return {k: v for k, v in out.items() if source is None or v.source == source}

    def severity(self, code: str, variant: str | None = None) -> str:
        entry = self.get(code)
        if entry is None:
            return "error"
        return entry.variant_severities.get(variant, entry.severity) if variant else entry.severity

    def title(self, code: str) -> str:
        """What the 代码 column shows: R01 as it is, a field-level code in Chinese, and
        for a code nobody registered (a reader's refusal) the title of ``unreadable``."""
        entry = self.get(code) or self.get(UNREGISTERED)
        return entry.title if entry is not None else code

    def finding_name(self, code: str) -> str:
        """How the pages name a finding for a clerk: a rule's code with its name (R18 文件名不符),
        a field-level or reader's code by its Chinese title alone (未填写, 无法读取)."""
        entry = self.get(code)
        if entry is None or entry.source not in RULE_SOURCES:
            return self.title(code)
        name = entry.name or (entry.title if entry.title != code else "")
        if not name and entry.source == "change":
            name = self.title("change")
        return f"{code} {name}" if name else code

    def severity_word(self, severity: str) -> str:
        if severity in self._severities:
            return self._severities[severity]
        return self.parent.severity_word(severity) if self.parent is not None else severity

    def template(self, code: str, variant: str | None = None) -> str:
        entry = self.get(code)
        if entry is None:
            raise KeyError(code)
        for v in (variant, DEFAULT):
            if v is not None and v in entry.messages:
                return entry.messages[v]
        raise KeyError(f"{code}.{variant or DEFAULT}")

    def has(self, code: str, variant: str) -> bool:
        entry = self.get(code)
        return entry is not None and variant in entry.messages

    def all_context(self) -> dict[str, object]:
        out = self.parent.all_context() if self.parent is not None else {}
        out.update(self.context)
        return out

    def message(self, code: str, variant: str | None = None, **params: object) -> str:
        """The message of ``code`` (its ``variant``), placeholders filled from the
        form's context and ``params``."""
        return render(self.template(code, variant), {**self.all_context(), **params})

    def type_words(self, type_: str) -> dict[str, str]:
        """prompt, error, example, check of a field type (empty where not given)."""
        above = self.parent.type_words(type_) if self.parent is not None else {}
        return {**above, **self._types.get(type_, {})}

    def phrase(self, name: str, **params: object) -> str:
        if name in self._phrases:
            return render(self._phrases[name], {**self.all_context(), **params})
        return self.parent.phrase(name, **params) if self.parent is not None else ""


def _statuses(data: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    out = {}
    for code, entry in data.get("statuses", {}).items():
        if not entry.get("word") or not entry.get("meaning"):
            raise CatalogueError(f"状态 {code} 缺少 word 或 meaning。")
        out[code] = (entry["word"], entry["meaning"])
    words = [w for w, _ in out.values()]
    if len(set(words)) != len(words):
        raise CatalogueError("两个状态用了同一个词。")
    return out


def _from_table(data: Mapping[str, Any]) -> Catalogue:
    cat = Catalogue()
    for name, raw in data.get("codes", {}).items():
        cat._codes[name] = Code(name, raw["severity"], raw.get("title", name), raw.get("messages", {}),
                                raw.get("source", ""), raw.get("severities", {}), raw.get("name", ""))
    cat._types = {k: dict(v) for k, v in data.get("types", {}).items()}
    cat._phrases = dict(data.get("phrases", {}))
    cat._severities = dict(data.get("severities", {}))
    return cat


_SHIPPED = tomllib.loads((resources.files("xlsx_tools") / "catalogue.toml").read_text(encoding="utf-8"))
CATALOGUE = _from_table(_SHIPPED)
# Status code -> (word, meaning): what a file or a unit is, said alike by validate, merge
# and the round (catalogue.toml's [statuses]; the same for every form).
STATUSES: dict[str, tuple[str, str]] = _statuses(_SHIPPED)


def status_word(code: str) -> str:
    """The word a person reads for a status code (accepted -> 通过)."""
    return STATUSES[code][0]


def status_meaning(code: str) -> str:
    return STATUSES[code][1]


def codes_of(source: str, catalogue: Catalogue = CATALOGUE) -> tuple[str, ...]:
    """The codes one part of the toolkit raises, in the catalogue's order."""
    return tuple(catalogue.codes(source))


def field_codes(catalogue: Catalogue = CATALOGUE) -> dict[str, str]:
    """Field-level code -> severity."""
    return {k: v.severity for k, v in catalogue.codes("field").items()}


def listed(items: Iterable[str], quote: bool = True) -> str:
    """“甲”、“乙”: how a message lists names."""
    return "、".join(f"“{i}”" if quote else str(i) for i in items)
