"""A segment's numbers as a pattern, and the bijection number <-> index that lets the hot state keep the
available numbers as one bitmap per segment (PP-12): 5,000,000 numbers are 625 KB, and a draw or a
verify touches single bits, so its cost does not grow with the pool (PP-13 benchmark).

A pattern is the five characters after the prefix (冀A), each a literal (a digit or a letter other than I
and O) or a class: `#` a digit, `*` a letter other than I and O, `&` either. `冀A` + `3####` is the 10,000
numbers 冀A30000..冀A39999. Index 0 is the first number; the last position varies fastest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

DIGITS = "0123456789"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # PP-10: I and O never appear on plates
CLASSES = {"#": DIGITS, "*": LETTERS, "&": DIGITS + LETTERS}
PATTERN_LENGTH = 5
_PATTERN = re.compile(r"[#*&0-9A-HJ-NP-Z]{5}")


class InvalidPattern(ValueError):
    pass


def alphabets(pattern: str) -> tuple[str, ...]:
    if not _PATTERN.fullmatch(pattern):
        raise InvalidPattern(
            f"pattern {pattern!r}: five of # (digit), * (letter), & (either) or literal digits and letters "
            "other than I and O"
        )
    return tuple(CLASSES.get(c, c) for c in pattern)


def matches(pattern: str, tail: str) -> bool:
    """Whether the five characters after the prefix take the shape `pattern` (PP-10 custom patterns)."""
    if len(tail) != PATTERN_LENGTH:
        return False
    return all(ch in alphabet for ch, alphabet in zip(tail, alphabets(pattern), strict=True))


@dataclass(frozen=True)
class NumberSpace:
    """The numbers of one segment: `prefix` + the expansions of `pattern` in index order; with `limit`,
    only the first `limit` of them (a segment of 50,000 numbers need not fill a whole pattern)."""

    prefix: str
    pattern: str
    limit: int | None = None

    @cached_property
    def _alphabets(self) -> tuple[str, ...]:
        return alphabets(self.pattern)

    @cached_property
    def size(self) -> int:
        total = 1
        for alphabet in self._alphabets:
            total *= len(alphabet)
        return total if self.limit is None else min(total, self.limit)

    def number(self, index: int) -> str:
        if not 0 <= index < self.size:
            raise IndexError(index)
        chars: list[str] = []
        for alphabet in reversed(self._alphabets):
            index, digit = divmod(index, len(alphabet))
            chars.append(alphabet[digit])
        return self.prefix + "".join(reversed(chars))

    def index(self, number: str) -> int | None:
        """The number's index in this segment, or None when it is not one of its numbers."""
        if not number.startswith(self.prefix) or len(number) != len(self.prefix) + PATTERN_LENGTH:
            return None
        index = 0
        for ch, alphabet in zip(number[len(self.prefix) :], self._alphabets, strict=True):
            position = alphabet.find(ch)
            if position < 0:
                return None
            index = index * len(alphabet) + position
        return index if index < self.size else None
