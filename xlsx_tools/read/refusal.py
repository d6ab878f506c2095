"""A file the reader will not read, and why, in one Chinese sentence.

The words are the catalogue's (``catalogue.toml``, the codes of source
``reader``). A refusal holds its kind, the code and variant of its message and
the values the message names; it is worded where it is told, in the catalogue
of the form it was read for (:meth:`RejectedFile.reason_in`), so a form's
``[catalogue]`` may reword it like any other finding.
"""

from __future__ import annotations

from ..catalogue import CATALOGUE, Catalogue, codes_of
from .limits import MAX_SECONDS

__all__ = ["KINDS", "IDENTITY_KINDS", "RejectedFile", "reject", "too_large", "too_slow"]

# A workbook of another form or version: refused with R20's words (see check_identity).
IDENTITY_KINDS = ("other_form", "new_version", "old_version")
# The catalogue's code of a kind whose name another code has (a field left blank is "missing").
_CODES = {"missing": "missing_file"}

# Every kind a RejectedFile can carry (validate adds its own for the later stages: source "stage").
KINDS = (*(k for k in codes_of("reader") if k not in _CODES.values()), *_CODES, *IDENTITY_KINDS)


class RejectedFile(Exception):
    """A file that is not a readable workbook of this form.

    ``kind`` is a stable short code, one of :data:`KINDS`; ``code`` and
    ``variant`` name its message in the catalogue, ``params`` the values it
    names. ``reason`` is that one Chinese sentence in the toolkit's words.
    """

    def __init__(self, kind: str, variant: str | None = None, *, code: str | None = None, **params: object):
        super().__init__(kind)
        self.kind = kind
        self.code = code or _CODES.get(kind, kind)
        self.variant = variant
        self.params = params

    def reason_in(self, catalogue: Catalogue) -> str:
        """The reason in ``catalogue``'s words (a form's: ``form.catalogue``)."""
        return catalogue.message(self.code, self.variant, resave=catalogue.phrase("resave"),
                                 ambiguous=catalogue.phrase("ambiguous", resave=catalogue.phrase("resave")),
                                 **self.params)

    @property
    def reason(self) -> str:
        return self.reason_in(CATALOGUE)

    def __reduce__(self):  # picklable across worker processes
        return (_rebuilt, (self.kind, self.variant, self.code, self.params))

    def __str__(self) -> str:
        return self.reason


def _rebuilt(kind: str, variant: str | None, code: str, params: dict) -> RejectedFile:
    return RejectedFile(kind, variant, code=code, **params)


def reject(kind: str, variant: str | None = None, **params: object) -> RejectedFile:
    return RejectedFile(kind, variant, **params)


def too_slow(seconds: float = MAX_SECONDS) -> RejectedFile:
    """A file's time is up (the reader's, or all its checks')."""
    return RejectedFile("too_slow", seconds=f"{seconds:g}")


def too_large(variant: str, **params: object) -> RejectedFile:
    """More than a form can hold: ``variant`` says which limit (catalogue.toml's too_large)."""
    return RejectedFile("too_large", variant, **params)
