"""The same workbook in other legal spellings: what XML and the zip allow a writer to vary.

    spelled = respell_workbook(src, dst, Spelling(prefix="x", cdata=True, ...))

Every part of the package is parsed and written back with the chosen
liberties: namespace prefixes (on all or some elements, declared at the root
or where first used), attribute order and quotes, white space in tags and
between elements, character references, CDATA, comments and processing
instructions, the XML declaration and a byte order mark, UTF-16; in the sheets
the reader reads, rows and cells without their ``r``, strings moved between the
shared-string table and the cells, split into formatted runs, given phonetic
guides; in the zip, the entry order and stored or deflated entries. The
cells a spreadsheet program shows stay the same.
"""

from __future__ import annotations

import functools
import io
import posixpath
import random
import re
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from xml.etree import ElementTree as ET

__all__ = ["CANONICAL", "SPELLINGS", "Spelling", "everything", "respell_workbook", "sheet_names",
           "strict_workbook", "transitional_workbook", "write_xml"]

from hypothesis import strategies as st

from xlsx_tools.form import parse_cell

SML = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_NS = "http://www.w3.org/XML/1998/namespace"
SST_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
SST_CONTENT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"

# Prefixes for the namespaces other than SpreadsheetML, as their writers spell them.
_PREFIXES = {
    REL: "r", XML_NS: "xml", "http://schemas.openxmlformats.org/markup-compatibility/2006": "mc",
    "http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac": "x14ac",
    "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main": "x14",
    "http://schemas.openxmlformats.org/package/2006/metadata/core-properties": "cp",
    "http://purl.org/dc/elements/1.1/": "dc", "http://purl.org/dc/terms/": "dcterms",
    "http://purl.org/dc/dcmitype/": "dcmitype", "http://www.w3.org/2001/XMLSchema-instance": "xsi",
    "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes": "vt",
}


@dataclass(frozen=True)
class Spelling:
    """What a writer chose; every choice keeps what the workbook shows."""
    seed: int = 0
    declaration: int = 1          # 0 none, 1 plain, 2 with encoding, 3 single quotes and standalone
    bom: bool = False
    utf16: bool = False
    prefix: str | None = None     # SpreadsheetML elements written as prefix:name
    prefix_share: float = 1.0     # of the elements, the share that take the prefix
    declare_low: bool = False     # namespaces declared where first used, not at the root
    prefix_package: bool = False  # the package's own parts ([Content_Types].xml, rels) prefixed too
    shuffle_attributes: bool = False
    single_quotes: float = 0.0    # share of attributes quoted with '
    space_in_tags: bool = False
    space_between: bool = False
    char_refs: float = 0.0        # share of characters written as &#...;
    cdata: float = 0.0            # share of texts written as CDATA
    comments: float = 0.0         # share of places given a comment (or a processing instruction)
    long_empty: bool = False      # <a></a> for <a/>
    drop_refs: float = 0.0        # share of rows and cells whose r is left out where it follows
    to_shared: float = 0.0        # share of inline strings moved to the shared-string table
    to_inline: float = 0.0        # share of shared strings moved into their cells
    runs: float = 0.0             # share of strings split into formatted runs
    phonetic: float = 0.0         # share of strings given a phonetic guide
    shuffle_entries: bool = False
    stored: float = 0.0           # share of zip entries stored, not deflated


CANONICAL = Spelling()


# -- writing XML -------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


# The characters the writer escapes (or may: '>'), in text and in a quoted attribute value.
_PLAIN = re.compile("[&<>\r]")
_PLAIN_ATTRIBUTE = re.compile("[&<>\r\t\n\"']")


class _Writer:
    def __init__(self, spelling: Spelling, rng: random.Random, root_uri: str, package: bool):
        self.s = spelling
        self.rng = rng
        self.out: list[str] = []
        self.prefixed = spelling.prefix is not None and (
            root_uri == SML or (package and spelling.prefix_package))
        self.main = root_uri
        self.counter = 0
        self.unknown: dict[str, str] = {}

    def chance(self, p: float) -> bool:
        return p > 0 and self.rng.random() < p

    def ws(self, choices=("\n", "\n  ", " ", "\r\n\t")) -> str:
        return self.rng.choice(choices)

    def text(self, text: str, attribute: str | None = None) -> str:
        p = self.s.char_refs
        if not p and not (_PLAIN if attribute is None else _PLAIN_ATTRIBUTE).search(text):
            return text      # nothing to escape, nothing to draw: what the loop below gives
        random, choice = self.rng.random, self.rng.choice
        out = []
        for i, ch in enumerate(text):
            if ch == "&":
                out.append(choice(("&amp;", "&#38;", "&#x26;")))
            elif ch == "<":
                out.append(choice(("&lt;", "&#60;")))
            elif ch == ">":
                out.append("&gt;" if text[max(0, i - 2):i] == "]]" or random() < 0.5 else ">")
            elif attribute is not None and ch == attribute:
                out.append("&quot;" if ch == '"' else "&apos;")
            elif ch == "\r" or (attribute is not None and ch in "\t\n"):
                out.append(f"&#{ord(ch)};")
            elif p > 0 and random() < p and ch not in "\t\n":     # self.chance(p), inlined
                out.append(f"&#x{ord(ch):X};" if random() < 0.5 else f"&#{ord(ch)};")
            else:
                out.append(ch)
        return "".join(out)

    def chars(self, text: str) -> str:
        """An element's text: escaped, or in CDATA, maybe split by a comment."""
        if not text:
            return ""
        if self.chance(self.s.cdata) and "]]>" not in text and "\r" not in text:
            cut = self.rng.randrange(len(text) + 1)
            return self.text(text[:cut]) + f"<![CDATA[{text[cut:]}]]>"
        if len(text) > 1 and self.chance(self.s.comments):
            cut = self.rng.randrange(1, len(text))
            return self.text(text[:cut]) + self.aside() + self.text(text[cut:])
        return self.text(text)

    def aside(self) -> str:
        self.counter += 1
        return f"<!-- {self.counter} -->" if self.rng.random() < 0.7 else f"<?xlsx-tools n{self.counter}?>"

    def name(self, name: str, scope: dict[str, str], decls: dict[str, str], element: bool = True) -> str:
        """The qualified name of an element or attribute here, declaring its namespace where needed."""
        uri, local = _split(name)
        if not uri:
            return local
        if uri == XML_NS:
            return f"xml:{local}"
        if element and uri == self.main and not (self.prefixed and self.chance(self.s.prefix_share)):
            want = ""   # unprefixed attributes are in no namespace: only an element takes the default
        elif uri == self.main:
            want = self.s.prefix or "x"
        else:
            want = self.other(uri)
        key = "xmlns" + (f":{want}" if want else "")
        if scope.get(key) != uri:
            scope[key] = uri
            decls[key] = uri
        return f"{want}:{local}" if want else local

    def other(self, uri: str) -> str:
        return _PREFIXES.get(uri) or self.unknown.setdefault(uri, f"ns{len(self.unknown)}")

    def used(self, el: ET.Element) -> dict[str, str]:
        """Every declaration the document needs, to make at the root."""
        out: dict[str, str] = {}
        for e in el.iter():
            for name in (e.tag, *e.attrib):
                uri, _ = _split(name)
                if not uri or uri == XML_NS:
                    continue
                if uri == self.main:
                    if name == e.tag:
                        out["xmlns"] = uri
                    if self.prefixed or name != e.tag:
                        out[f"xmlns:{self.s.prefix or 'x'}"] = uri
                else:
                    out[f"xmlns:{self.other(uri)}"] = uri
        return out

    def element(self, el: ET.Element, scope: dict[str, str], decls: dict[str, str] | None = None) -> None:
        # Written for speed (the in-cell checks' sheet has some ten thousand elements): every
        # draw from self.rng is made as before, in the same order, so a seed spells as it did.
        s, out = self.s, self.out
        scope = dict(scope)
        decls = dict(decls) if decls else {}
        scope.update(decls)
        qname = self.name(el.tag, scope, decls)
        attrs = [(self.name(k, scope, decls, element=False), v) for k, v in el.attrib.items()]
        if s.shuffle_attributes:
            self.rng.shuffle(attrs)
        items = list(decls.items()) + attrs if decls else attrs
        parts = [f"<{qname}"]
        if s.single_quotes or s.space_in_tags:
            for k, v in items:
                q = "'" if self.chance(s.single_quotes) else '"'
                sep = self.ws((" ", "  ", "\n", "\t ")) if s.space_in_tags else " "
                eq = self.rng.choice(("=", " = ", "=\n")) if s.space_in_tags else "="
                parts.append(f"{sep}{k}{eq}{q}{self.text(v, q)}{q}")
        else:
            text = self.text
            parts.extend([f' {k}="{text(v, chr(34))}"' for k, v in items])
        end = self.ws(("", " ", "\n")) if s.space_in_tags else ""
        children = list(el)
        if not children and not el.text:
            out.append("".join(parts) + (f"{end}></{qname}>" if s.long_empty else f"{end}/>"))
            return
        out.append("".join(parts) + end + ">")
        element_only = bool(children) and not (el.text or "").strip() and all(
            not (c.tail or "").strip() for c in children)
        if element_only:
            between = self.between if s.space_between or s.comments else None
            for child in children:
                if between:
                    between()
                self.element(child, scope)
            if between:
                between()
        else:
            out.append(self.chars(el.text or ""))
            for child in children:
                self.element(child, scope)
                out.append(self.chars(child.tail or ""))
        out.append(f"</{qname}>")

    def between(self) -> None:
        if self.s.space_between and self.rng.random() < 0.5:
            self.out.append(self.ws())
        if self.chance(self.s.comments):
            self.out.append(self.aside())


def write_xml(root: ET.Element, spelling: Spelling, rng: random.Random, package: bool = False) -> bytes:
    uri, _ = _split(root.tag)
    w = _Writer(spelling, rng, uri, package)
    w.element(root, {}, {} if spelling.declare_low else w.used(root))
    body = "".join(w.out)
    misc = w.aside() + "\n" if w.chance(spelling.comments) else ""
    encoding = "UTF-16" if spelling.utf16 else "UTF-8"
    declaration = ["", '<?xml version="1.0"?>\n', f'<?xml version="1.0" encoding="{encoding}"?>\n',
                   f"<?xml version='1.0' encoding='{encoding.lower()}' standalone='yes'?>\r\n"]
    decl = declaration[spelling.declaration]
    if spelling.utf16 and not decl:
        decl = declaration[2]
    text = decl + misc + body + ("\n" + w.aside() if w.chance(spelling.comments) else "")
    if spelling.utf16:
        return text.encode("utf-16")      # with its byte order mark
    return (b"\xef\xbb\xbf" if spelling.bom else b"") + text.encode("utf-8")


# -- changing the sheets without changing what they show ---------------------------------

def _q(local: str) -> str:
    return f"{{{SML}}}{local}"


def _plain_text(item: ET.Element) -> str | None:
    """The text of an is/si holding one t and nothing else; None otherwise."""
    kids = list(item)
    if len(kids) == 1 and kids[0].tag == _q("t"):
        return kids[0].text or ""
    return None


def _rich(item: ET.Element, text: str, rng: random.Random, spelling: Spelling) -> None:
    """Fill an is/si with ``text``: plain, in formatted runs, with a phonetic guide."""
    for kid in list(item):
        item.remove(kid)

    def t(parent: ET.Element, value: str) -> None:
        el = ET.SubElement(parent, _q("t"))
        el.text = value
        if value != value.strip() or "\n" in value:
            el.set(f"{{{XML_NS}}}space", "preserve")

    if len(text) > 1 and spelling.runs and rng.random() < spelling.runs:
        cuts = sorted(rng.sample(range(1, len(text)), min(2, len(text) - 1)))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        if rng.random() < 0.5:
            t(item, pieces.pop(0))
        for piece in pieces:
            r = ET.SubElement(item, _q("r"))
            if rng.random() < 0.7:
                pr = ET.SubElement(r, _q("rPr"))
                ET.SubElement(pr, _q("b"))
                ET.SubElement(pr, _q("sz"), {"val": "11"})
                ET.SubElement(pr, _q("rFont"), {"val": rng.choice(("宋体", "Calibri"))})
            t(r, piece)
    else:
        t(item, text)
    if text and spelling.phonetic and rng.random() < spelling.phonetic:
        ph = ET.SubElement(item, _q("rPh"), {"sb": "0", "eb": "1"})
        t(ph, "かな")
        ET.SubElement(item, _q("phoneticPr"), {"fontId": "0"})


def _respell_cells(sheet: ET.Element, strings: list[ET.Element], sst: ET.Element,
                   rng: random.Random, s: Spelling) -> None:
    data = sheet.find(_q("sheetData"))
    if data is None:
        return
    previous_row = 0
    for row in data.findall(_q("row")):
        number = int(row.get("r") or previous_row + 1)
        if row.get("r") and number == previous_row + 1 and rng.random() < s.drop_refs:
            del row.attrib["r"]
        previous_row = number
        previous_col = 0
        for c in row.findall(_q("c")):
            ref = c.get("r")
            r, col = parse_cell(ref) if ref else (number, previous_col + 1)
            if ref and r == number and col == previous_col + 1 and rng.random() < s.drop_refs:
                del c.attrib["r"]
            previous_col = col
            kind = c.get("t")
            if kind == "inlineStr" and c.find(_q("is")) is not None:
                item = c.find(_q("is"))
                text = _plain_text(item)
                if text is None:
                    continue
                if rng.random() < s.to_shared:
                    c.remove(item)
                    si = ET.SubElement(sst, _q("si"))
                    _rich(si, text, rng, s)
                    strings.append(si)
                    c.set("t", "s")
                    ET.SubElement(c, _q("v")).text = str(len(strings) - 1)
                else:
                    _rich(item, text, rng, s)
            elif kind == "s" and c.find(_q("v")) is not None:
                v = c.find(_q("v"))
                si = strings[int(v.text)]
                text = _plain_text(si)
                if text is not None and c.find(_q("f")) is None and rng.random() < s.to_inline:
                    c.remove(v)
                    c.set("t", "inlineStr")
                    _rich(ET.SubElement(c, _q("is")), text, rng, s)


# -- the package -----------------------------------------------------------------------

def _read_parts(src: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(src) as z:
        return {i.filename: z.read(i.filename) for i in z.infolist()}


def _sheets_read(parts: dict[str, bytes], sheet_names: tuple[str, ...]) -> dict[str, str]:
    """Sheet name -> part, for the named sheets, through workbook.xml and its rels."""
    wb = ET.fromstring(parts["xl/workbook.xml"])
    rels = ET.fromstring(parts["xl/_rels/workbook.xml.rels"])
    targets = {r.get("Id"): r.get("Target") for r in rels}
    out = {}
    for sheet in wb.iter(_q("sheet")):
        if sheet.get("name") in sheet_names:
            t = targets[sheet.get(f"{{{REL}}}id")]
            out[sheet.get("name")] = t.lstrip("/") if t.startswith("/") else posixpath.join("xl", t)
    return out


def sheet_names(src: Path) -> list[str]:
    """The names of the workbook's sheets, in its order."""
    with zipfile.ZipFile(src) as z:
        return [sheet.get("name") for sheet in ET.fromstring(z.read("xl/workbook.xml")).iter(_q("sheet"))]


def respell_workbook(src: Path, dst: Path, spelling: Spelling, sheets: tuple[str, ...],
                     emptied: tuple[str, ...] = ()) -> Path:
    """Write ``src`` to ``dst`` in ``spelling``; ``sheets``: the sheets whose cells to re-spell;
    ``emptied``: sheets written without their cells and merged ranges (what the caller does not
    look at)."""
    rng = random.Random(spelling.seed)
    parts = _read_parts(src)
    trees = {n: ET.fromstring(d) for n, d in parts.items() if n.endswith((".xml", ".rels"))}
    for part in _sheets_read(parts, emptied).values():
        root = trees[part]
        for data in root.iter(_q("sheetData")):
            data.clear()
        for merged in root.findall(_q("mergeCells")):    # ranges of cells no longer there
            root.remove(merged)
    sst_name = "xl/sharedStrings.xml"
    if sst_name not in trees:
        trees[sst_name] = ET.Element(_q("sst"))
        rels = trees["xl/_rels/workbook.xml.rels"]
        ET.SubElement(rels, f"{{{PKG}}}Relationship", {"Id": "rIdSpelledSST", "Type": SST_TYPE,
                                                       "Target": "sharedStrings.xml"})
        ET.SubElement(trees["[Content_Types].xml"], f"{{{CT}}}Override",
                      {"PartName": "/xl/sharedStrings.xml", "ContentType": SST_CONTENT})
    sst = trees[sst_name]
    strings = list(sst.findall(_q("si")))
    for part in _sheets_read(parts, sheets).values():
        _respell_cells(trees[part], strings, sst, rng, spelling)
    for si in strings:
        text = _plain_text(si)
        if text is not None and (spelling.runs or spelling.phonetic):
            _rich(si, text, rng, spelling)
    out = {n: write_xml(t, spelling, rng, package=n.endswith(".rels") or n == "[Content_Types].xml")
           for n, t in trees.items()}
    out.update({n: d for n, d in parts.items() if n not in out})
    names = list(out)
    if spelling.shuffle_entries:
        rng.shuffle(names)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in names:
            info = zipfile.ZipInfo(n, date_time=(2022, 9, 15, 9, 0, 0))
            stored = rng.random() < spelling.stored
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            z.writestr(info, out[n])
    dst.write_bytes(buf.getvalue())
    return dst


def everything(seed: int) -> Spelling:
    """Every liberty at once."""
    return replace(CANONICAL, seed=seed, declaration=3, bom=True, prefix="x", prefix_share=0.5,
                   declare_low=True, shuffle_attributes=True, single_quotes=0.5, space_in_tags=True,
                   space_between=True, char_refs=0.2, cdata=0.3, comments=0.2, long_empty=True,
                   drop_refs=0.5, to_shared=0.5, to_inline=0.5, runs=0.5, phonetic=0.3,
                   shuffle_entries=True, stored=0.5)


# Any spelling, for hypothesis.
SPELLINGS = st.builds(
    Spelling,
    seed=st.integers(0, 2**32 - 1), declaration=st.integers(0, 3), bom=st.booleans(),
    utf16=st.booleans(), prefix=st.sampled_from([None, "x", "s", "main"]),
    prefix_share=st.sampled_from([0.3, 1.0]), declare_low=st.booleans(), prefix_package=st.booleans(),
    shuffle_attributes=st.booleans(), single_quotes=st.sampled_from([0.0, 0.5, 1.0]),
    space_in_tags=st.booleans(), space_between=st.booleans(),
    char_refs=st.sampled_from([0.0, 0.05, 0.5]), cdata=st.sampled_from([0.0, 0.5]),
    comments=st.sampled_from([0.0, 0.1]), long_empty=st.booleans(),
    drop_refs=st.sampled_from([0.0, 0.5, 1.0]), to_shared=st.sampled_from([0.0, 0.5, 1.0]),
    to_inline=st.sampled_from([0.0, 1.0]), runs=st.sampled_from([0.0, 0.5]),
    phonetic=st.sampled_from([0.0, 0.5]), shuffle_entries=st.booleans(),
    stored=st.sampled_from([0.0, 0.5, 1.0]))


# -- Strict Open XML: the same workbook in the other dialect (Excel's "Strict Open XML") ---------

_DIALECTS = ((SML.encode(), b"http://purl.oclc.org/ooxml/spreadsheetml/main"),
             (REL.encode(), b"http://purl.oclc.org/ooxml/officeDocument/relationships"))


def _renamed(src: Path, dst: Path, pairs: tuple[tuple[bytes, bytes], ...]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith((".xml", ".rels")):
                for old, new in pairs:
                    data = data.replace(old, new)   # the relationship types start with REL
            zout.writestr(info, data)
    return dst


def strict_workbook(src: Path, dst: Path) -> Path:
    """``src`` in Strict OOXML's namespaces (SpreadsheetML, relationships and their types)."""
    return _renamed(src, dst, _DIALECTS)


def transitional_workbook(src: Path, dst: Path) -> Path:
    """A Strict workbook back in the transitional namespaces (what openpyxl reads)."""
    return _renamed(src, dst, tuple((new, old) for old, new in _DIALECTS))
