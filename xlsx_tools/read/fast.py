"""The fast path for worksheets: the same cells as the parse, for one exact spelling.

Driving expat from Python costs a call per element; the cells of a form's
sheets are read several times faster with regular expressions, which run in C.
A regular expression that searches for cells could skip what it does not
know, so this one does not search: a sheet is taken only when

* its declaration and root are spelled as Excel, LibreOffice, WPS and openpyxl
  write them: UTF-8, the root ``<worksheet>`` unprefixed with SpreadsheetML as
  its default namespace;
* a grammar consumes EVERY byte of its sheetData: unprefixed rows and cells,
  the known attributes in the schema's order and double quotes, text without
  CDATA, comments or processing instructions, character references only to
  characters XML allows, nothing but whitespace between elements;
* what comes before and after the sheetData is XML (expat checks it, with the
  root's namespace declarations) and holds no other sheetData;
* no cell and no row number is there twice, and there are not too many.

Anything else gives None and the caller parses the part (:mod:`.parse`),
which then decides, so on every sheet this path takes it gives exactly what
the parse gives. The parts around the cells (views, validations, formatting)
are the same in every copy of a form, so their check is cached by content.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from xml.etree import ElementTree
from xml.parsers import expat

from .cache import CACHE
from .limits import MAX_CELLS, MAX_ROWS
from .model import Cell, SheetCells, Stored
from .parse import SML, ooxml_unescape, truthy
from .refusal import reject

__all__ = ["SOUND", "decode", "fast_shared_strings", "fast_sheet"]

# Possessive quantifiers throughout: the grammar never needs to take back what
# it matched (each piece starts with its own literal), and sre runs them faster.
_S = rb"[ \t\r\n]*+"         # whitespace between elements
_AV = rb'[ !#-%\'-;=?-~]*+'  # an attribute value: printable ASCII but " & < >
_AVU = rb'[^"<&\x00-\x1f]*+'   # one of formatting, which may name a font in Chinese
_DEC = (rb"(?:[1-4][0-9]{4}|[1-9][0-9]{2,3}|3[2-9]|[4-9][0-9]|9|1[03]|5[0-4][0-9]{3}|55[01][0-9]{2}"
        rb"|552[0-8][0-9]|5529[0-5]|5734[4-9]|573[5-9][0-9]|57[4-9][0-9]{2}|5[89][0-9]{3}"
        rb"|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-3]|6553[6-9]|655[4-9][0-9]"
        rb"|65[6-9][0-9]{2}|6[6-9][0-9]{3}|[7-9][0-9]{4}|[1-9][0-9]{5}|10[0-9]{5}|110[0-9]{4}"
        rb"|111[0-3][0-9]{3}|11140[0-9]{2}|111410[0-9]|111411[01])")
_HEX = (rb"x(?:[9aAdD]|[2-9a-fA-F][0-9a-fA-F]|[1-9a-fA-F][0-9a-fA-F]{2}|[1-9a-cA-C][0-9a-fA-F]{3}"
        rb"|[dD][0-7][0-9a-fA-F]{2}|[eE][0-9a-fA-F]{3}|[fF][0-9a-eA-E][0-9a-fA-F]{2}"
        rb"|[fF]{2}[0-9a-eA-E][0-9a-fA-F]|[fF]{3}[0-9a-dA-D]|[1-9a-fA-F][0-9a-fA-F]{4}"
        rb"|10[0-9a-fA-F]{4})")
_CHARS = rb"[^<&\x00-\x08\x0b\x0c\x0e-\x1f\]]*+"
# Element text: no markup, references to XML's five entities or to characters
# XML allows, and never "]]>" (which XML forbids in text).
_TX = (_CHARS + rb"(?:(?:&(?:#" + _DEC + rb"|#" + _HEX + rb"|amp|lt|gt|quot|apos);|\](?!\]>))"
       + _CHARS + rb")*+")


def _attrs(*names: bytes, value: bytes = _AV) -> bytes:
    """Optional attributes, each at most once, in this order (the schema's)."""
    return b"".join(rb'(?: ' + n + rb'="' + value + rb'")?+' for n in names)


_COL = rb"(?:[A-Z]{1,2}|[A-W][A-Z]{2}|X[A-E][A-Z]|XF[A-D])"        # A..XFD
_ROWN = (rb"(?:[1-9][0-9]{0,5}|10[0-3][0-9]{4}|104[0-7][0-9]{3}|1048[0-4][0-9]{2}|10485[0-6][0-9]"
         rb"|104857[0-6])")                                           # 1..1048576
_T = rb'<t(?: xml:space="preserve")?+(?:/>|>' + _TX + rb"</t>)"
_RPR_CHILD = (rb"<(?:rFont|charset|family|b|i|strike|outline|shadow|condense|extend|sz|u|vertAlign"
              rb"|scheme)" + _attrs(b"val", value=_AVU) + rb"/>|<color"
              + _attrs(b"auto", b"indexed", b"rgb", b"theme", b"tint") + rb"/>")
_RUN = (rb"<r>" + _S + rb"(?:<rPr>" + _S + rb"(?:(?:" + _RPR_CHILD + rb")" + _S + rb")*+</rPr>" + _S
        + rb")?+" + _T + _S + rb"</r>")
_RPH = rb'<rPh sb="[0-9]{1,9}" eb="[0-9]{1,9}">' + _S + _T + _S + rb"</rPh>"
_PHONETIC_PR = rb"<phoneticPr" + _attrs(b"fontId", b"type", b"alignment") + rb"/>"
_IS = (rb"<is>" + _S + rb"(?:" + _T + _S + rb")?+(?:" + _RUN + _S + rb")*+(?:" + _RPH + _S
       + rb")*+(?:" + _PHONETIC_PR + _S + rb")?+</is>")
_F = (rb"<f" + _attrs(b"t", b"aca", b"ref", b"dt2D", b"dtr", b"del1", b"del2", b"r1", b"r2", b"ca",
                      b"si", b"bx") + rb"(?:/>|>" + _TX + rb"</f>)")
_V = rb"(?:<v/>|<v>" + _TX + rb"</v>)"
_CELL = (rb'<c r="' + _COL + _ROWN + rb'"(?: s="[0-9]{1,9}")?+(?: t="(?:b|d|e|inlineStr|n|s|str)")?+'
         + _attrs(b"cm", b"vm", b"ph") + rb"(?:/>|>" + _S + rb"(?:" + _F + _S + rb")?+(?:" + _V + _S
         + rb")?+(?:" + _IS + _S + rb")?+</c>)")
_ROW_ATTRS = _attrs(b"spans", b"s", b"customFormat", b"ht", b"hidden", b"customHeight", b"outlineLevel",
                    b"collapsed", b"thickTop", b"thickBot", b"ph", b"x14ac:dyDescent")
_ROW = (rb'<row r="' + _ROWN + rb'"' + _ROW_ATTRS + rb"(?:/>|>" + _S + rb"(?:" + _CELL + _S
        + rb")*+</row>)")
_SHEET_DATA = re.compile(rb"<sheetData/>|<sheetData>" + _S + rb"(?:" + _ROW + _S + rb")*+</sheetData>")

_SI = (rb"<si>" + _S + rb"(?:" + _T + _S + rb")?+(?:" + _RUN + _S + rb")*+(?:" + _RPH + _S
       + rb")*+(?:" + _PHONETIC_PR + _S + rb")?+</si>")
_SST_BODY = re.compile(_S + rb"(?:" + _SI + _S + rb")*+</sst>" + _S)
_SST_ROOT = re.compile(rb'<sst((?:[ \t\r\n]+[^\x00-\x20=<>"\'/]+="[^"<&]*")*)[ \t\r\n]*>')
_SI_ALL = re.compile(rb"<si>([^<]*+(?:<(?!/si>)[^<]*+)*+)</si>")

_PROLOG = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:<\?xml[ \t\r\n]+version=(?:\"1\.0\"|'1\.0')(?:[ \t\r\n]+encoding="
    rb"(?:\"[Uu][Tt][Ff]-8\"|'[Uu][Tt][Ff]-8'))?(?:[ \t\r\n]+standalone=(?:\"(?:yes|no)\"|'(?:yes|no)'))?"
    rb"[ \t\r\n]*\?>)?[ \t\r\n]*")
_ROOT = re.compile(rb'<worksheet((?:[ \t\r\n]+[^\x00-\x20=<>"\'/]+="[^"<&]*")*)[ \t\r\n]*>')
_ROOT_ATTR = re.compile(rb'([^\x00-\x20=<>"\'/]+)="([^"<&]*)"')
_DEFAULT_NS = tuple(ns.encode() for ns in SML)
_POST_HEAD = re.compile(
    _S + rb'(?:<sheetCalcPr(?: fullCalcOnLoad="' + _AV + rb'")?' + _S + rb"/>" + _S + rb")?"
    rb"(?:<sheetProtection((?:[ \t\r\n]+[A-Za-z]+=\"[^\"<&]*\")*)" + _S + rb"(?:/>|></sheetProtection>)"
    rb"|<(?!sheetProtection[ \t\r\n/>]|sheetCalcPr[ \t\r\n/>])[A-Za-z][A-Za-z0-9]*[ \t\r\n/>]"
    rb"|</worksheet" + _S + rb">)")
_PLAIN_ATTR = re.compile(rb'([A-Za-z]+)="([^"<&]*)"')

# Extraction, on a sheetData the grammar has taken: every '<c r="' starts a cell,
# and a cell's f, v and is come in this order, each at most once.
_CELL_REF = re.compile(rb'<c r="([A-Z]+[0-9]+)"')
_CELL_AT = re.compile(rb'<c r="[A-Z]+[0-9]+"(?: s="([0-9]+)")?+(?: t="([A-Za-z]+)")?+(?: [a-z]+="[^"]*+")*+'
                      rb"(?:/>|>([^<]*+(?:<(?!/c>)[^<]*+)*+)</c>)")
_ROW_REF = re.compile(rb'<row r="([0-9]+)"')
_F_AT = re.compile(rb'<f(?=[ />])(?: [A-Za-z0-9]+="[^"]*")*(?:/>|>([^<]*)</f>)' + _S)
_V_AT = re.compile(rb"<v(?:/>|>([^<]*)</v>)" + _S)
_T_AT = re.compile(rb'<t(?: xml:space="preserve")?(?:/>|>([^<]*)</t>)')
_TYPES = {t.encode(): t for t in ("b", "d", "e", "inlineStr", "n", "s", "str")} | {b"": "n"}


def _possessives_are_sound() -> bool:
    """Does this Python's ``re`` match possessive quantifiers as documented? CPython before
    3.11.5 (Debian 12 ships 3.11.2) matches some wrongly (python/cpython#106052, #100061),
    and this path's grammar would then misread cells: there, the parse reads every sheet."""
    cell = b'<c r="A1" s="41" t="inlineStr"><is><t>&#34920;&#21333;</t></is></c>'
    return (re.fullmatch(b"(?:ab?c)*+", b"a") is None
            and re.findall(b"(((?!C).)++)", b"ABC") == [(b"AB", b"B")]
            and _CELL_AT.fullmatch(cell) is not None)


SOUND = _possessives_are_sound()


def fast_sheet(data: bytes, wanted: Iterable[tuple[tuple[int, int], bytes]]) -> SheetCells | None:
    """What :func:`.parse.parse_sheet` gives for ``data``, or None to let it decide."""
    if not SOUND:
        return None
    m = _PROLOG.match(data)
    root = _ROOT.match(data, m.end())
    if root is None:
        return None
    declared = dict(_ROOT_ATTR.findall(root.group(1)))
    if declared.get(b"xmlns") not in _DEFAULT_NS:
        return None
    start = data.find(b"<sheetData", root.end())
    if start < 0:
        return None
    if data.startswith(b"<sheetData/>", start):
        end = start + 12
    else:
        end = data.find(b"</sheetData>", start)
        if end < 0:
            return None
        end += 12
    head, body, tail = data[root.end():start], data[start:end], data[end:]
    if b"sheetData" in head or b"sheetData" in tail:
        return None
    protected = _frame(root.group(0), head, tail)
    if protected is None or not _SHEET_DATA.fullmatch(body):
        return None
    if b" x14ac:" in body and b"xmlns:x14ac" not in declared:
        return None   # a prefix the root does not bind: the parse says so
    if b"\xef\xbf" in body and (b"\xef\xbf\xbe" in body or b"\xef\xbf\xbf" in body):
        return None   # U+FFFE, U+FFFF: not characters XML allows
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    refs = _CELL_REF.findall(body)
    rows = _ROW_REF.findall(body)
    present = set(refs)
    if len(refs) > MAX_CELLS or len(rows) > MAX_ROWS or len(present) != len(refs) \
            or len(set(rows)) != len(rows):
        return None   # the parse says what is wrong
    return SheetCells(_cells(body, present, wanted), protected)


def fast_shared_strings(data: bytes) -> list[str] | None:
    """What :func:`.parse.parse_shared_strings` gives for ``data``, or None to let it decide."""
    if not SOUND:
        return None
    root = _SST_ROOT.match(data, _PROLOG.match(data).end())
    if root is None or dict(_ROOT_ATTR.findall(root.group(1))).get(b"xmlns") not in _DEFAULT_NS:
        return None
    body = data[root.end():]
    if not _SST_BODY.fullmatch(body):
        return None
    if b"\xef\xbf" in body and (b"\xef\xbf\xbe" in body or b"\xef\xbf\xbf" in body):
        return None
    try:
        body.decode("utf-8")
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.Parse(root.group(0) + b"</sst>", True)
    except (UnicodeDecodeError, expat.ExpatError):
        return None
    raw = []
    for item in _SI_ALL.findall(body):
        if item[:3] == b"<t>" and item.find(b"<", 3) == len(item) - 4:
            raw.append(item[3:-4])
            continue
        phonetic = item.find(b"<rPh")
        raw.append(b"".join(_T_AT.findall(item if phonetic < 0 else item[:phonetic])))
    texts = _texts(raw)
    return None if texts is None else [ooxml_unescape(t) if "_x" in t else t for t in texts]


def _frame(root: bytes, head: bytes, tail: bytes) -> bool | None:
    """Whether the sheet is protected, if what surrounds its cells is XML; else None.

    Kept in the cache under a sample of the bytes, and taken only when all of
    them are the same (comparing bytes costs less than hashing them).
    """
    key = ("sheet-frame", len(root), len(head), len(tail), root, head[:512], tail[:256], tail[-256:])
    hit = CACHE.peek(key)
    if hit is not None and hit[0] == head and hit[1] == tail:
        return hit[2]
    verdict = _check_frame(root, head, tail)
    CACHE.put(key, (head, tail, verdict), len(root) + len(head) + len(tail))
    return verdict


def _check_frame(root: bytes, head: bytes, tail: bytes) -> bool | None:
    for doc in (root + head + b"</worksheet>", root + tail):
        parser = expat.ParserCreate(namespace_separator=" ")
        try:
            parser.Parse(doc, True)
        except expat.ExpatError:
            return None
    m = _POST_HEAD.match(tail)
    if m is None:
        return None
    if m.group(1) is None:
        return False
    attrs = dict(_PLAIN_ATTR.findall(m.group(1)))
    if b"xmlns" in attrs:
        return None
    return truthy(attrs.get(b"sheet", b"").decode("ascii"))


def _cells(body: bytes, present: set[bytes],
           wanted: Iterable[tuple[tuple[int, int], bytes]]) -> dict[tuple[int, int], Stored]:
    """The cells at the ``wanted`` positions ((row, col), b"C5") that are in the sheet.

    Each cell's reference is in the sheet once, so its start is found by searching
    for it (from the previous one: the wanted cells come in the sheet's order).
    """
    cells: dict[tuple[int, int], Stored] = {}
    at = 0
    for pos, ref in wanted:
        if ref not in present:
            continue
        needle = b'<c r="' + ref + b'"'
        i = body.find(needle, at)
        if i < 0:
            i = body.find(needle)
        m = _CELL_AT.match(body, i)
        s, t, inner = m.groups(b"")
        cells[pos] = Stored(s, t, inner)
        at = m.end()
    return cells


def decode(stored: Stored) -> Cell:
    """The cell a Stored holds (the grammar took it, so its text decodes)."""
    s, t, inner = stored
    cell = Cell(_TYPES[t], int(s) if s else 0)
    if not inner:
        return cell
    raw: list[bytes] = []
    slots: list[int] = []
    # The usual contents alone, <v>…</v> or <is><t>…</t></is>, without a search.
    if inner[:3] == b"<v>" and inner.find(b"<", 3) == len(inner) - 4:
        raw.append(inner[3:-4])
        slots.append(1)
    elif inner[:7] == b"<is><t>" and inner.find(b"<", 7) == len(inner) - 9:
        raw.append(inner[7:-9])
        slots.append(2)
    else:
        at = _S_AT.match(inner).end()
        fm = _F_AT.match(inner, at)
        if fm:
            raw.append(fm.group(1) or b"")
            slots.append(0)
            at = fm.end()
        vm = _V_AT.match(inner, at)
        if vm:
            raw.append(vm.group(1) or b"")
            slots.append(1)
            at = vm.end()
        if inner.startswith(b"<is>", at):
            runs = inner[at:inner.index(b"</is>", at)]
            phonetic = runs.find(b"<rPh")
            raw.append(b"".join(_T_AT.findall(runs if phonetic < 0 else runs[:phonetic])))
            slots.append(2)
    texts = _texts(raw)
    if texts is None:   # cannot be, after the grammar: as the parse would say, broken
        raise reject("corrupt")
    for what, text in zip(slots, texts):
        if what == 1:
            cell.v = text
        elif what == 0:
            cell.f = text
        else:
            cell.text = text
    return cell


_S_AT = re.compile(_S)


def _texts(raw: list[bytes]) -> list[str] | None:
    """Element texts as XML reads them: references decoded, line ends normalised.

    Texts with references (some writers spell every CJK character as one) are
    decoded by one C-level parse of all of them together, which costs less than
    decoding each in Python, and remembered: a form's labels recur in every copy.
    """
    out: list[str] = []
    todo: list[int] = []
    for i, r in enumerate(raw):
        if b"&" in r:
            known = CACHE.peek(("text", r))
            if known is None:
                todo.append(i)
            out.append(known)    # type: ignore[arg-type]
            continue
        try:
            t = r.decode("utf-8")
        except UnicodeDecodeError:
            return None
        out.append(t.replace("\r\n", "\n").replace("\r", "\n") if "\r" in t else t)
    if todo:
        doc = b"<r>" + b"".join(b"<t>" + raw[i] + b"</t>" for i in todo) + b"</r>"
        try:
            root = ElementTree.fromstring(doc)
        except ElementTree.ParseError:
            return None
        for i, el in zip(todo, root):
            out[i] = el.text or ""
            CACHE.put(("text", raw[i]), out[i], len(raw[i]))
    return out
