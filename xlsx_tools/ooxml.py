"""Editing an OOXML package part by part, leaving every other part as it is stored.

A part is parsed with expat into elements that know their byte ranges
(:class:`El`), edited by replacing ranges (:class:`Edits`), and written back;
members that are not changed are copied into the new zip as they were
compressed, byte for byte. Relationships and content types get entries
added. A DOCTYPE or entity declaration is refused, as the reader refuses it.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

Member = tuple[str, int, int, int, int, bytes]   # name, method, CRC, sizes, compressed bytes


class PackageError(Exception):
    """A package or part that cannot be read or edited. ``kind``: ``gone`` (the file
    cannot be read any more), ``too_large``, ``declaration`` (a DOCTYPE or entity
    declaration, refused as the reader refuses it), ``malformed``."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class Stop(Exception):
    """Raised in a handler to end parsing early."""


class El:
    """An element: namespace, local name, attributes, and where it stands in the part's bytes.

    ``start``: its '<'; ``open_end``: just after its start tag; ``end``: just
    after its end tag (== open_end for an empty element written as <x/>);
    ``scope``: the namespace declarations in force at it (prefix -> URI, "" the
    default), so its bytes can be parsed alone (:func:`children_of`).
    """
    __slots__ = ("attrs", "children", "end", "inner_end", "ns", "open_end", "scope", "start", "tag", "text")

    def __init__(self, ns: str, tag: str, attrs: dict[str, str], start: int, open_end: int,
                 scope: dict[str, str] | None = None):
        self.ns, self.tag, self.attrs = ns, tag, attrs
        self.start, self.open_end = start, open_end
        self.inner_end = self.end = open_end     # where its end tag starts, and ends
        self.children: list[El] = []
        self.text: list[str] | None = None
        self.scope = scope if scope is not None else {}

    @property
    def empty(self) -> bool:
        return self.end == self.open_end

    # The parts of a part are children in its own namespace: an element of another
    # namespace with the same local name (an extension's, or a decoy) is none of them,
    # as the reader takes none of them.
    def find(self, tag: str) -> El | None:
        return next((c for c in self.children if c.tag == tag and c.ns == self.ns), None)

    def all(self, tag: str) -> list[El]:
        return [c for c in self.children if c.tag == tag and c.ns == self.ns]

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)


REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RID = f"{REL_NS} id"
STRICT_REL_NS = "http://purl.oclc.org/ooxml/officeDocument/relationships"
OPEN_TAG_REST = re.compile(rb"(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
_CLOSE_TAG = re.compile(rb"[^>]*>")
QNAME = re.compile(rb"<([^\s/>]+)")


def forbid_declarations(*_args) -> None:
    raise PackageError("declaration")


def parse(data: bytes, depth: int = 64, texts: frozenset[str] = frozenset(),
           stop: frozenset[str] = frozenset()) -> El:
    """Parse ``data`` with expat, keeping elements ``depth`` levels below the root.

    Elements named in ``texts`` collect their character data. Parsing ends at
    the start of the root's first child named in ``stop`` (kept, with what came
    before it): what follows is not needed.
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = forbid_declarations
    parser.EntityDeclHandler = forbid_declarations
    stack: list[El | None] = []
    top: list[El] = []
    # The declarations in force, with the level of the element that made them: most
    # elements make none, and cost nothing here.
    scopes: list[tuple[int, dict[str, str]]] = [(-1, {})]
    declared: dict[str, str] = {}             # made on the element about to start

    def declare(prefix: str | None, uri: str | None) -> None:
        declared[prefix or ""] = uri or ""

    def start(name: str, attrs: dict[str, str]) -> None:
        level = len(stack)
        if declared:
            scopes.append((level, {**scopes[-1][1], **declared}))
            declared.clear()
        parent = stack[-1] if level else None
        if level > depth or (parent is None and level):
            stack.append(None)
            return
        at = parser.CurrentByteIndex
        m = OPEN_TAG_REST.match(data, at + 1)
        open_end = m.end() if m else at + 1
        ns, _, tag = name.rpartition(" ")
        el = El(ns, tag, attrs, at, open_end, scopes[-1][1])
        if tag in texts:
            el.text = []
        if parent is None:
            top.append(el)
        else:
            parent.children.append(el)
        stack.append(el)
        if level == 1 and tag in stop:
            raise Stop

    def end(_name: str) -> None:
        el = stack.pop()
        if scopes[-1][0] == len(stack):
            scopes.pop()
        if el is None or data[el.open_end - 2:el.open_end] == b"/>":
            return
        el.inner_end = at = parser.CurrentByteIndex
        m = _CLOSE_TAG.match(data, at)
        el.end = m.end() if m else at

    def chars(text: str) -> None:
        el = stack[-1] if stack else None
        if el is not None and el.text is not None:
            el.text.append(text)

    parser.StartNamespaceDeclHandler = declare
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    if texts:
        parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except Stop:
        pass
    except expat.ExpatError:
        raise PackageError("malformed") from None
    if not top:
        raise PackageError("malformed")
    return top[0]


def children_of(data: bytes, el: El, tag: str) -> list[El]:
    """The children named ``tag`` (in ``el``'s namespace) of a parsed element, parsed from
    its bytes alone when first needed (so a large part is parsed only down to where it
    is edited). The bytes are wrapped in the declarations in force at ``el``, so a
    prefix declared above it means what it means in the part."""
    found: list[El] = []
    if el.empty:
        return found
    head = b"<_" + b"".join(b" xmlns" + (b":" + p.encode() if p else b"") + b'="' + esc_attr(uri) + b'"'
                            for p, uri in el.scope.items()) + b">"
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    wanted = f"{el.ns} {tag}" if el.ns else tag
    depth = [0]

    def start(name: str, attrs: dict[str, str]) -> None:
        depth[0] += 1
        if depth[0] == 3 and name == wanted:
            at = el.start + parser.CurrentByteIndex - len(head)
            m = OPEN_TAG_REST.match(data, at + 1)
            found.append(El(el.ns, tag, attrs, at, m.end() if m else at + 1))

    def end(_name: str) -> None:
        depth[0] -= 1

    parser.StartElementHandler, parser.EndElementHandler = start, end
    try:
        parser.Parse(head + data[el.start:el.end] + b"</_>", True)
    except expat.ExpatError:
        raise PackageError("malformed") from None
    return found


def first_elements(chunks: Iterable[bytes], until: str) -> list[tuple[str, dict[str, str]]]:
    """(local name, attributes) of the elements before the first ``until`` element, parsing
    only as far as that (the head of a large part)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = forbid_declarations
    parser.EntityDeclHandler = forbid_declarations
    found: list[tuple[str, dict[str, str]]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        tag = name.rpartition(" ")[2]
        if tag == until:
            raise Stop
        found.append((tag, attrs))

    parser.StartElementHandler = start
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
    except Stop:
        pass
    except expat.ExpatError:
        raise PackageError("malformed") from None
    return found


def utf8(data: bytes) -> bytes:
    """A part in UTF-8, so byte offsets and inserted text agree (UTF-16 is legal, and rare)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = data.decode("utf-16")
        text = re.sub(r"""^(<\?xml[^>]*encoding=)(["'])[^"']*\2""", r"\1\2UTF-8\2", text)
        return text.encode("utf-8")
    return data


def prefix_of(data: bytes, el: El) -> bytes:
    """The namespace prefix an element is written with (b'x:' or b''), for new siblings."""
    qname = QNAME.match(data, el.start).group(1)
    return qname[:qname.index(b":") + 1] if b":" in qname else b""


ATTR = re.compile(rb"\s+([^\s=/>]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def esc_attr(value: str) -> bytes:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
            .replace("\t", "&#9;")).encode("utf-8")


_OOXML_ESCAPED = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def esc_text(text: str) -> bytes:
    """Text for a cell or a note: XML-escaped, and OOXML's _xHHHH_ for what XML cannot hold."""
    text = _OOXML_ESCAPED.sub(r"_x005F_\1", text)
    text = _NOT_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode("utf-8")


def text_element(prefix: bytes, text: str) -> bytes:
    space = b' xml:space="preserve"' if text != text.strip() or "\n" in text else b""
    return b"<" + prefix + b"t" + space + b">" + esc_text(text) + b"</" + prefix + b"t>"


def prefixed(prefix: bytes, text: bytes) -> bytes:
    """Elements written without a prefix, given ``prefix`` (that of the part they go into)."""
    return re.sub(rb"<(/?)(?=\w)", b"<\\1" + prefix, text) if prefix else text


def with_attrs(data: bytes, el: El, values: dict[str, str | None]) -> bytes:
    """The bytes of element ``el`` with attributes set as ``Edits.set_attrs`` sets them."""
    piece = data[el.start:el.end]
    shifted = El(el.ns, el.tag, el.attrs, 0, el.open_end - el.start)
    edits = Edits(piece)
    edits.set_attrs(shifted, values)
    return edits.result()


class Edits:
    """Replacements of byte ranges of one part, applied together."""

    def __init__(self, data: bytes):
        self.data = data
        self.ops: list[tuple[int, int, int, bytes]] = []

    def replace(self, start: int, end: int, text: bytes) -> None:
        self.ops.append((start, end, len(self.ops), text))

    def insert(self, at: int, text: bytes) -> None:
        self.replace(at, at, text)

    def set_attrs(self, el: El, values: dict[str, str | None]) -> None:
        """Set (or, with None, remove) unprefixed attributes of ``el``'s start tag."""
        data = self.data
        tag = QNAME.match(data, el.start)
        found = {m.group(1).decode(): m for m in ATTR.finditer(data, tag.end(), el.open_end)}
        added = b""
        for name, value in values.items():
            m = found.get(name)
            if m is None:
                if value is not None:
                    added += b" " + name.encode() + b'="' + esc_attr(value) + b'"'
            elif value is None:
                self.replace(m.start(), m.end(), b"")
            else:
                group = 2 if m.group(2) is not None else 3
                self.replace(m.start(group), m.end(group), esc_attr(value))
        if added:
            self.insert(tag.end(), added)

    def append_child(self, parent: El, text: bytes) -> None:
        """Add ``text`` as the last child of ``parent`` (opening an empty <x/>)."""
        if parent.empty:
            qname = QNAME.match(self.data, parent.start).group(1)
            tail = self.data.rfind(b"/", parent.start, parent.open_end)
            self.replace(tail, parent.open_end, b">" + text + b"</" + qname + b">")
        else:
            self.insert(parent.inner_end, text)

    def result(self) -> bytes:
        out, at = [], 0
        for start, end, _, text in sorted(self.ops):
            if start < at:
                raise AssertionError("overlapping edits")
            out += [self.data[at:start], text]
            at = end
        out.append(self.data[at:])
        return b"".join(out)


def insert_in_order(edits: Edits, parent: El, order: Sequence[str], tag: str, text: bytes) -> None:
    """Insert a child of ``parent`` where the schema's ``order`` of children puts ``tag``."""
    rank = {name: i for i, name in enumerate(order)}
    mine = rank[tag]
    before = [c for c in parent.children if rank.get(c.tag, len(order)) < mine]
    if before:
        edits.insert(before[-1].end, text)
    elif parent.empty:
        edits.append_child(parent, text)
    else:
        edits.insert(parent.open_end, text)


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


def int_or(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


# -- the package: its members, read within limits, and written as a new zip -----------------

CONTENT_TYPES_PART = "[Content_Types].xml"
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT_MAIN_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"
CONTENT_TYPES = {
    "worksheet": "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
    "comments": "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml",
    "vml": "application/vnd.openxmlformats-officedocument.vmlDrawing",
    "styles": "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml",
}
XML_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


@dataclass(frozen=True)
class Dialect:
    """Transitional or Strict OOXML (the reader takes both): the namespaces that what is
    added to a package is written in, so it speaks the package's own."""
    main: str     # SpreadsheetML
    rel: str      # relationships: r:id, and the relationship types

    def rel_type(self, kind: str) -> str:
        return f"{self.rel}/{kind}"


TRANSITIONAL = Dialect(MAIN_NS, REL_NS)
STRICT = Dialect(STRICT_MAIN_NS, STRICT_REL_NS)


def dialect_of(el: El) -> Dialect:
    """The dialect of a SpreadsheetML part, by its root element."""
    return STRICT if el.ns == STRICT_MAIN_NS else TRANSITIONAL


def rid_of(el: El) -> str | None:
    """An element's r:id, in either dialect's namespace (as the reader takes it)."""
    return el.get(RID) or el.get(f"{STRICT_REL_NS} id")


class Package:
    """A zip package: members read on demand (at most ``limit`` bytes inflated in all),
    changed or added ones kept to write."""

    def __init__(self, path: Path, limit: int):
        self.path, self.limit = path, limit
        try:
            self.zf = zipfile.ZipFile(path)
            self.infos = self.zf.infolist()
        except (OSError, zipfile.BadZipFile, EOFError, ValueError):
            raise PackageError("gone") from None
        self.names: dict[str, zipfile.ZipInfo] = {}
        for info in self.infos:
            self.names.setdefault(info.filename.lstrip("/").lower(), info)
        self.inflated = 0
        self.new: dict[str, bytes] = {}     # part name (as stored, or new) -> content

    def close(self) -> None:
        self.zf.close()

    def info(self, name: str) -> zipfile.ZipInfo | None:
        return self.names.get(name.lstrip("/").lower())

    def has(self, name: str) -> bool:
        return self.info(name) is not None or name in self.new

    def read(self, name: str) -> bytes | None:
        """A part's content (as changed so far), inflated within the reader's byte limit."""
        if name in self.new:
            return self.new[name]
        info = self.info(name)
        if info is None:
            return None
        left = self.limit - self.inflated
        try:
            with self.zf.open(info) as fh:
                data = fh.read(left + 1)
        except (OSError, zipfile.BadZipFile, EOFError, ValueError, zlib.error, NotImplementedError):
            raise PackageError("gone") from None
        if len(data) > left:
            raise PackageError("too_large")
        self.inflated += len(data)
        return data

    def head(self, name: str, size: int = 64 * 1024) -> Iterable[bytes]:
        """A part's content in chunks, for reading only its beginning."""
        info = self.info(name)
        if info is None:
            return
        try:
            with self.zf.open(info) as fh:
                while chunk := fh.read(size):
                    yield chunk
        except (OSError, zipfile.BadZipFile, EOFError, ValueError, zlib.error, NotImplementedError):
            raise PackageError("gone") from None

    def put(self, name: str, data: bytes) -> None:
        info = self.info(name)
        self.new[info.filename if info is not None else name] = data

    def free_name(self, pattern: str) -> str:
        """The first ``pattern.format(n)`` (n = 1, 2...) that is not a member."""
        n = 1
        while self.has(pattern.format(n)):
            n += 1
        return pattern.format(n)

    def write(self, date_time: tuple[int, ...]) -> bytes:
        """The new zip: every member in its order, unchanged ones copied as stored; new
        parts last. Every member is dated ``date_time``."""
        members = []
        seen: set[str] = set()
        try:
            with open(self.path, "rb") as fh:
                for info in self.infos:
                    if info.filename in self.new and info.filename not in seen:
                        seen.add(info.filename)
                        members.append(deflated(info.filename, self.new[info.filename]))
                    else:
                        members.append(stored(fh, info))
        except OSError:
            raise PackageError("gone") from None
        members += [deflated(name, data) for name, data in self.new.items() if name not in seen
                    and self.info(name) is None]
        return zip_bytes(members, date_time)


def stored(fh, info: zipfile.ZipInfo) -> Member:
    """A member as it is stored in the returned file: copied, not inflated and deflated again."""
    if info.flag_bits & 0x1:
        raise PackageError("malformed")
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise PackageError("malformed")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    fh.seek(info.header_offset + 30 + name_len + extra_len)
    raw = fh.read(info.compress_size)
    if len(raw) != info.compress_size:
        raise PackageError("malformed")
    return info.filename, info.compress_type, info.CRC, info.compress_size, info.file_size, raw


def deflated(name: str, data: bytes) -> Member:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = c.compress(data) + c.flush()
    return name, zipfile.ZIP_DEFLATED, zlib.crc32(data), len(raw), len(data), raw




def zip_bytes(members: Sequence[Member], date_time: tuple[int, ...]) -> bytes:
    """A plain zip of compressed members, all dated ``date_time`` (no zip64: the reader's
    limits keep a workbook far below it)."""
    dos_date = ((date_time[0] - 1980) << 9) | (date_time[1] << 5) | date_time[2]
    dos_time = (date_time[3] << 11) | (date_time[4] << 5) | (date_time[5] // 2)
    out, central = bytearray(), bytearray()
    for name, method, crc, csize, usize, raw in members:
        encoded = name.encode("utf-8")
        flags = 0 if name.isascii() else 0x800
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, dos_time, dos_date,
                           crc, csize, usize, len(encoded), 0) + encoded + raw
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, dos_time,
                               dos_date, crc, csize, usize, len(encoded), 0, 0, 0, 0, 0,
                               offset) + encoded
    start = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                       start, 0)
    return bytes(out)


def rels_name(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


class Rels:
    """A part's relationships; new ones added at the end."""

    def __init__(self, pkg: Package, part: str):
        self.pkg, self.part = pkg, part
        self.name = rels_name(part)
        data = pkg.read(self.name)
        self.data = utf8(data) if data is not None else (
            XML_DECL + f'<Relationships xmlns="{RELS_NS}"></Relationships>'.encode())
        self.root = parse(self.data, depth=1)
        self.edits = Edits(self.data)
        self.rels = {r.get("Id"): r for r in self.root.all("Relationship")}
        self.changed = data is None

    def target(self, rel: El | None) -> str | None:
        if rel is None or (rel.get("TargetMode") or "").lower() == "external":
            return None
        target = rel.get("Target") or ""
        if target.startswith("/"):
            return posixpath.normpath(target.lstrip("/"))
        return posixpath.normpath(posixpath.join(posixpath.dirname(self.part), target))

    def by_id(self, rid: str | None) -> El | None:
        return self.rels.get(rid) if rid else None

    def by_type(self, kind: str) -> list[El]:
        return [r for r in self.rels.values() if (r.get("Type") or "").endswith("/" + kind)]

    def add(self, kind: str, target_part: str, dialect: Dialect = TRANSITIONAL) -> str:
        n = 1
        while f"rId{n}" in self.rels:
            n += 1
        rid = f"rId{n}"
        target = posixpath.relpath(target_part, posixpath.dirname(self.part) or ".")
        self.edits.append_child(self.root, b'<' + prefix_of(self.data, self.root) + b'Relationship Id="'
                                + rid.encode() + b'" Type="' + dialect.rel_type(kind).encode()
                                + b'" Target="' + esc_attr(target) + b'"/>')
        self.rels[rid] = self.root   # the id is taken
        self.changed = True
        return rid

    def save(self) -> None:
        if self.changed:
            self.pkg.put(self.name, self.edits.result())


class ContentTypes:
    def __init__(self, pkg: Package):
        self.pkg = pkg
        data = pkg.read(CONTENT_TYPES_PART)
        if data is None:
            raise PackageError("malformed")
        self.data = utf8(data)
        self.root = parse(self.data, depth=1)
        self.edits = Edits(self.data)
        self.defaults = {(d.get("Extension") or "").lower() for d in self.root.all("Default")}
        self.overrides = {(o.get("PartName") or "").lstrip("/").lower() for o in self.root.all("Override")}
        self.changed = False

    def _add(self, text: str) -> None:
        self.edits.append_child(self.root, b"<" + prefix_of(self.data, self.root) + text.encode("utf-8"))
        self.changed = True

    def default(self, ext: str, content_type: str) -> None:
        if ext.lower() not in self.defaults:
            self.defaults.add(ext.lower())
            self._add(f'Default Extension="{ext}" ContentType="{content_type}"/>')

    def override(self, part: str, content_type: str) -> None:
        if part.lower() not in self.overrides:
            self.overrides.add(part.lower())
            self._add(f'Override PartName="/{part}" ContentType="{content_type}"/>')

    def save(self) -> None:
        if self.changed:
            self.pkg.put(CONTENT_TYPES_PART, self.edits.result())




def office_document(pkg: Package) -> str:
    """The workbook part, found as the package's rels say (xl/workbook.xml by default)."""
    root_rels = Rels(pkg, "")
    for rel in root_rels.by_type("officeDocument"):
        target = root_rels.target(rel)
        if target and pkg.has(target):
            return target
    if pkg.has("xl/workbook.xml"):
        return "xl/workbook.xml"
    raise PackageError("malformed")
