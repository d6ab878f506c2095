"""One workbook, many legal spellings: the fast path, the parse and what was typed agree.

The reader decides values by an XML parse with namespaces (xlsx_tools.read.parse)
and takes the usual spellings by a strict grammar (xlsx_tools.read.fast). These
tests write the same cells in every way XML and the zip allow (tests/_spell.py)
and check that both ways read what the original holds; they damage a sheet's
bytes at random and check that the fast path never takes what the parse does not
give the same way; and they open a sample of spellings in LibreOffice.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from _fill import make_filled, valid_values
from _hostile import table_part
from _libreoffice import convert
from _spell import CANONICAL, SPELLINGS, everything, respell_workbook
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from _examples import examples

from xlsx_tools.form import META_SHEET, cell_name, load_form
from xlsx_tools.read import RejectedFile, read_workbook
from xlsx_tools.read.assemble import read_path
from xlsx_tools.read.fast import _DEC, _HEX, SOUND, decode, fast_shared_strings, fast_sheet
from xlsx_tools.read.model import SheetCells, Stored
from xlsx_tools.read.parse import SML, parse_shared_strings, parse_sheet

FORM = load_form()
SHEETS = (FORM.cover.name, FORM.table.name, META_SHEET)


def slow(n: int) -> settings:
    return settings(max_examples=examples(n), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def comparable(path: Path, fast: bool = True) -> dict:
    data = asdict(read_path(Path(path), FORM, fast=fast))
    data.pop("path")
    return data


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("spellings")


@pytest.fixture(scope="module")
def filled(work):
    values = valid_values()
    values["address"] = "北京市海淀区 <万寿路> 27号 & \"东\"院"   # markup characters in a value
    values["service_fields"] = "  电子信息\n装备制造  "          # spaces and a line end kept
    return make_filled(work, values)


@pytest.fixture(scope="module")
def expected(filled):
    return comparable(filled)


def test_the_fast_path_takes_the_spelling_the_writers_use(filled, work):
    """Else the tests below would compare the parse with itself. Where this Python's re
    misreads possessive quantifiers (before 3.11.5, fast.SOUND), it takes none: the parse reads."""
    for path in (filled, respell_workbook(filled, work / "canonical.xlsx", CANONICAL, SHEETS)):
        with zipfile.ZipFile(path) as z:
            for sheet in SHEETS:
                data = z.read(table_part(path, sheet))
                taken = fast_sheet(data, [((1, 1), b"A1")]) is not None
                assert taken is SOUND, (path.name, sheet)


@slow(25)
@given(spelling=SPELLINGS)
@example(spelling=everything(1))
@example(spelling=replace(CANONICAL, prefix="x", prefix_share=0.3, declare_low=True))
@example(spelling=replace(CANONICAL, utf16=True, declaration=2))
@example(spelling=replace(CANONICAL, to_shared=1.0, runs=0.5, phonetic=0.5))
def test_every_legal_spelling_reads_as_the_original(filled, expected, tmp_path_factory, spelling):
    path = respell_workbook(filled, tmp_path_factory.mktemp("spelled") / "spelled.xlsx", spelling, SHEETS)
    assert comparable(path, fast=True) == expected
    assert comparable(path, fast=False) == expected


# -- the fast path never takes what the parse reads otherwise -------------------------

_NS = SML[0].encode()
TOKENS = [
    b"<", b">", b"&", b'"', b"'", b" ", b"\n", b"\r", b"]]>", b"]", b"&#0;", b"&#xD800;", b"&#65;",
    b"&#x1F600;", b"&#1114112;", b"&amp;", b"&foo;", b"<!-- x -->", b"<![CDATA[x]]>", b"<?pi x?>",
    b"x:", b' xmlns="urn:x"', b' xmlns:x="' + _NS + b'"', b' r="C5"', b' r="A1"', b' r="c5"', b' t="s"',
    b' t="q"', b' s="9"', b' s="-1"', b'<c r="C5"/>', b'<c r="C5" t="inlineStr"><is><t>x</t></is></c>',
    b'<row r="5"/>', b'</row><row r="2">', b"<v>1</v>", b"<f>1</f>", b"<is><t>a</t></is>", b"\xff",
    b"\xef\xbf\xbf", b"\xc0\x80", b"\x01", b"\t", b"<sheetData/>", b"</sheetData><sheetData>",
    b'<x:c xmlns:x="' + _NS + b'" r="C5"><x:v>7</x:v></x:c>', b"<extLst/>", b'<c r="ZZZZ1"/>',
    b'<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">',
    b" x14ac:dyDescent=\"0.2\"", b"<rPh sb=\"0\" eb=\"1\"><t>k</t></rPh>", b"<r><t>run</t></r>",
    b'<sheetProtection sheet="0"/>', b"<sheetCalcPr/>", b"\xef\xbb\xbf", b'<?xml version="1.0"?>',
]
edits = st.lists(st.tuples(st.sampled_from(["insert", "insert", "replace", "delete", "copy"]),
                           st.floats(0, 1), st.sampled_from(TOKENS), st.integers(1, 12), st.booleans()),
                 min_size=1, max_size=3)


_EDGE = re.compile(rb"[<>]")


def _damage(data: bytes, plan, lo: int, hi: int) -> bytes:
    """Apply the edits; half of them at a tag's edge, where the result is more often XML."""
    for op, where, token, n, at_edge in plan:
        at = lo + int(where * (hi - lo))
        if at_edge:
            edges = [m.start() for m in _EDGE.finditer(data, lo, min(hi, len(data)))]
            if edges:
                at = edges[int(where * (len(edges) - 1))] + (data[edges[int(where * (len(edges) - 1))]] == 62)
        if op == "copy":   # an element again elsewhere: a cell, a row, a run twice
            start = data.find(b"<", lo + int(where * (hi - lo)) // 2)
            end = data.find(b">", start) + 1
            closing = data.find(b"</", end)
            if start < 0 or closing < 0:
                continue
            whole = end if data[end - 2:end] == b"/>" else data.find(b">", closing) + 1
            piece = data[start:whole]
            data = data[:at] + piece + data[at:]
        elif op == "insert":
            data = data[:at] + token + data[at:]
        elif op == "replace":
            data = data[:at] + token + data[at + len(token):]
        else:
            data = data[:at] + data[at + n:]
    return data


@pytest.fixture(scope="module")
def table_xml(filled):
    with zipfile.ZipFile(filled) as z:
        return z.read(table_part(filled, FORM.table.name))


@pytest.fixture(scope="module")
def sst_xml(filled, work):
    spelled = respell_workbook(filled, work / "shared.xlsx", replace(CANONICAL, to_shared=1.0, runs=0.5,
                                                                      phonetic=0.5), SHEETS)
    with zipfile.ZipFile(spelled) as z:
        return z.read("xl/sharedStrings.xml")


WANTED = sorted((r, c) for r in range(1, 80) for c in range(1, 8))
WANTED_REFS = [(p, cell_name(*p).encode()) for p in WANTED]


def _decoded(found: SheetCells | None) -> SheetCells | None:
    """The fast path's cells decoded (it leaves them as bytes until their value is asked for)."""
    if found is None:
        return None
    return SheetCells({pos: decode(c) if isinstance(c, Stored) else c for pos, c in found.cells.items()},
                      found.protected)


def _parse(data: bytes, parse):
    try:
        return parse(data)
    except RejectedFile as e:
        return e.kind


@slow(300)
@given(plan=edits, anywhere=st.booleans())
def test_the_fast_path_gives_what_the_parse_gives_or_declines(table_xml, plan, anywhere):
    lo, hi = (0, len(table_xml)) if anywhere else (table_xml.find(b"<sheetData"),
                                                   table_xml.find(b"</sheetData>") + 12)
    data = _damage(table_xml, plan, lo, hi)
    fast = _decoded(fast_sheet(data, WANTED_REFS))
    parsed = _parse(data, lambda d: parse_sheet(d, set(WANTED)))
    event("fast path took it" if fast is not None else "parsed" if not isinstance(parsed, str)
          else f"refused: {parsed}")
    if fast is not None:
        assert fast == parsed, "the fast path took a sheet the parse reads otherwise"


@slow(200)
@given(plan=edits)
def test_the_fast_shared_strings_give_what_the_parse_gives_or_decline(sst_xml, plan):
    data = _damage(sst_xml, plan, 0, len(sst_xml))
    fast = fast_shared_strings(data)
    parsed = _parse(data, parse_shared_strings)
    event("fast path took it" if fast is not None else "parsed" if not isinstance(parsed, str)
          else f"refused: {parsed}")
    if fast is not None:
        assert fast == parsed


def test_the_grammar_takes_exactly_the_character_references_xml_allows():
    """Code points around every edge of XML's Char (and a spread between), in decimal and in
    hex without leading zeros, against its definition."""
    import re
    dec, hexa = re.compile(rb"&#" + _DEC + rb";"), re.compile(rb"&#" + _HEX + rb";")

    def allowed(n: int) -> bool:
        return (n in (0x9, 0xA, 0xD) or 0x20 <= n <= 0xD7FF or 0xE000 <= n <= 0xFFFD
                or 0x10000 <= n <= 0x10FFFF)
    edges = [0x9, 0xA, 0xD, 0x20, 0xD7FF, 0xE000, 0xFFFD, 0x10000, 0x10FFFF,
             *(10 ** k for k in range(7)), *(16 ** k for k in range(6))]
    points = {n for e in edges for n in range(max(0, e - 300), e + 300)} | set(range(0, 0x110010, 97))
    for n in sorted(points):
        assert bool(dec.fullmatch(b"&#%d;" % n)) == allowed(n), n
        assert bool(hexa.fullmatch(b"&#x%X;" % n)) == allowed(n), n
        assert bool(hexa.fullmatch(b"&#x%x;" % n)) == allowed(n), n


# -- LibreOffice reads them as we do ---------------------------------------------------

LO_SPELLINGS = {
    "everything": everything(7),
    "prefixed-low": replace(CANONICAL, prefix="x", prefix_share=0.5, declare_low=True, seed=2),
    "shared-rich": replace(CANONICAL, to_shared=1.0, runs=1.0, phonetic=1.0, seed=3),
    "refs-cdata": replace(CANONICAL, char_refs=0.5, cdata=0.5, comments=0.2, seed=4),
    "no-r": replace(CANONICAL, drop_refs=1.0, space_between=True, space_in_tags=True, seed=5),
    "utf16-stored": replace(CANONICAL, utf16=True, declaration=2, stored=1.0, shuffle_entries=True, seed=6),
}


@pytest.mark.libreoffice
def test_libreoffice_reads_the_spellings_as_the_reader_does(filled, expected, work):
    folder = work / "lo-spellings"
    folder.mkdir()
    sources = [respell_workbook(filled, folder / f"{name}.xlsx", s, SHEETS)
               for name, s in LO_SPELLINGS.items()]
    for source in sources:
        assert comparable(source) == expected, source.name
    for source, resaved in zip(sources, convert(sources, work / "lo-resaved")):
        # LibreOffice drops workbook protection and veryHidden on saving, nothing else the checks use.
        got, want = comparable(resaved), dict(expected)
        for key in ("workbook_protected", "sheet_states"):
            got.pop(key), want.pop(key)
        got_raw, want_raw = got.pop("raw"), want.pop("raw")
        assert got == want, source.name
        assert {f: (r["value"], r["cell"]) for f, r in got_raw.items()} == \
            {f: (r["value"], r["cell"]) for f, r in want_raw.items()}, source.name
    read_workbook(sources[0])
