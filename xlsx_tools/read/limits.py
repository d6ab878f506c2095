"""How much of a returned file the reader takes on, and for how long.

A filled form is about 100 KB unpacked (the text of some 80 fields, labels,
styles). The limits leave two orders of magnitude for pasted pictures, long
summaries and other programs' verbose XML, and stop anything built to exhaust
the run. The bounds on values are Excel's own: a cell holds at most 32,767
characters and a formula 8,192; a number is a double (at most about 1.8e308).
"""

from __future__ import annotations

MAX_FILE_BYTES = 100 * 1024 * 1024            # the file on disk
MAX_UNCOMPRESSED = 20 * 1024 * 1024           # all XML parts the reader inflates, together
MAX_ARCHIVE_UNCOMPRESSED = 200 * 1024 * 1024  # every member of the zip, from its directory
MAX_RATIO = 200                               # inflated/compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
MAX_MEMBERS = 10_000                          # entries in the zip
MAX_ROWS = 100_000                            # <row> elements in one sheet of the form
MAX_CELLS = 200_000                           # <c> elements in one sheet of the form
MAX_SECONDS = 10.0                            # wall time for one file, every stage of it
MAX_TEXT = 32_767                             # characters in one cell (Excel's limit)
MAX_FORMULA = 8_192                           # characters of one formula (Excel's limit)
MAX_NUMBER_TEXT = 400                         # characters of one stored number; a double needs < 30
