"""The reader's one cache: what was worked out from bytes seen before.

A round's workbooks share most of their package parts (styles, relationships,
often workbook.xml, everything of a sheet but its cells, the labels' texts),
so each distinct content is worked out once. Keys name the kind of result and
carry the bytes it came from or a hash of them (as inflated and checked
against their CRC, never the CRC the sender wrote), so a result is reused only
for the very same bytes. Results are shared between files and never changed.

The cache is bounded both in entries and in the bytes the results came from,
so a run over thousands of files, or one hostile file, cannot grow it without
end: the oldest results go first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from typing import TypeVar

__all__ = ["CACHE", "BoundedCache", "digest"]

T = TypeVar("T")


def digest(*parts: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.digest()


class BoundedCache:
    def __init__(self, max_entries: int = 16_384, max_weight: int = 64 * 1024 * 1024):
        self.max_entries = max_entries
        self.max_weight = max_weight
        self.weight = 0
        self._items: dict[Hashable, tuple[object, int]] = {}   # in the order stored

    def get(self, key: Hashable, make: Callable[[], T], weight: int = 1) -> T:
        """The result stored under ``key``, or ``make()``'s, stored with ``weight``."""
        hit = self._items.get(key)
        if hit is not None:
            return hit[0]  # type: ignore[return-value]
        value = make()
        self.put(key, value, weight)
        return value

    def peek(self, key: Hashable) -> object | None:
        hit = self._items.get(key)
        return None if hit is None else hit[0]

    def put(self, key: Hashable, value: object, weight: int = 1) -> None:
        weight = max(1, weight)
        if weight > self.max_weight:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.weight -= old[1]
        self._items[key] = (value, weight)
        self.weight += weight
        while len(self._items) > self.max_entries or self.weight > self.max_weight:
            oldest = next(iter(self._items))
            self.weight -= self._items.pop(oldest)[1]

    def clear(self) -> None:
        self._items.clear()
        self.weight = 0

    def __len__(self) -> int:
        return len(self._items)


CACHE = BoundedCache()
