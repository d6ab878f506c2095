"""Read a returned workbook back: the form's identity, every field's raw value.

Thousands of returned files come in a round, from people using Excel, WPS or
LibreOffice, and some files are damaged or hostile. So the reader

* never loads a whole workbook: it inflates only the parts it needs (workbook.xml
  and its relationships, the styles, the shared strings, the form's sheets) and
  keeps only the cells it needs;
* decides every value by a real XML parse with namespaces (:mod:`.parse`); a
  fast path (:mod:`.fast`) takes the sheets spelled exactly as the usual
  programs write them and gives what the parse gives, and hands anything else
  to the parse;
* refuses before parsing what could take the run down (:mod:`.package`): a
  DOCTYPE or entity declaration, more bytes than a form can hold (checked in the
  zip directory and again while inflating), too many rows or cells, too long;
* refuses a package that says two things at once, since the programs that open
  it would not agree on what it holds: two entries of one name, a cell, a row, a
  sheet, a defined name or a relationship twice, two sheetData, a shared string
  that does not exist, a sheet of the form's name that the names do not point at;
* refuses values beyond what Excel holds (text over 32,767 characters, numbers
  that are no double);
* finds every field through its defined name (:mod:`.names`), and the cells of
  the other names asked for (prev_<id> beside the inputs, always; expl_<code>
  on request, from the package still open: :func:`open_workbook`) by the same rules;
* raises only :class:`RejectedFile`, with one Chinese sentence, for anything it
  cannot read.

The parts: :mod:`.sniff` (what a file is), :mod:`.package` (the zip and its
limits), :mod:`.parse` (the XML parse), :mod:`.fast` (the fast path),
:mod:`.names` (trusting defined names), :mod:`.assemble` (putting WorkbookData
together), :mod:`.cache` (the one bounded cache), :mod:`.limits`, :mod:`.refusal`.
"""

from .assemble import Book, open_workbook, read_workbook
from .limits import (
                     MAX_ARCHIVE_UNCOMPRESSED,
                     MAX_CELLS,
                     MAX_FILE_BYTES,
                     MAX_FORMULA,
                     MAX_MEMBERS,
                     MAX_NUMBER_TEXT,
                     MAX_RATIO,
                     MAX_ROWS,
                     MAX_SECONDS,
                     MAX_TEXT,
                     MAX_UNCOMPRESSED,
                     RATIO_FLOOR,
)
from .model import RawValue, WorkbookData
from .refusal import KINDS, RejectedFile

__all__ = [
    "Book", "KINDS", "MAX_ARCHIVE_UNCOMPRESSED", "MAX_CELLS", "MAX_FILE_BYTES", "MAX_FORMULA", "MAX_MEMBERS",
    "MAX_NUMBER_TEXT", "MAX_RATIO", "MAX_ROWS", "MAX_SECONDS", "MAX_TEXT", "MAX_UNCOMPRESSED",
    "RATIO_FLOOR", "RawValue", "RejectedFile", "WorkbookData", "open_workbook", "read_workbook",
]
