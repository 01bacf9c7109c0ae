"""The forum's rules (论坛): the sensitive-word filter, text limits and posting bans.

Chinese has no spaces, so a word is found as a substring. Both the text and the word list are
folded first (case, full-width forms, and every character that is neither a letter nor a digit
dropped), so that "敏 感 词", "敏-感-词" or full-width "ＡＢＣ" do not slip past the filter.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

KINDS = ("notice", "article", "thread", "reply")
STATES = ("visible", "hidden", "held")  # held: filtered, waiting for a moderator


class BadPost(ValueError):
    """A post refused before it is stored; `field` names the part at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def fold(text: str) -> str:
    """Lower-cased NFKC text with only its letters and digits (what the filter compares)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class WordFilter:
    words: tuple[str, ...]

    @classmethod
    def of(cls, words: Iterable[str]) -> WordFilter:
        return cls(tuple(sorted({fold(w) for w in words if fold(w)}, key=len, reverse=True)))

    def hit(self, *texts: str) -> str | None:
        """The first listed word found in any of the texts (folded), or None."""
        folded = [fold(text) for text in texts]
        for word in self.words:
            if any(word in text for text in folded):
                return word
        return None


def clean_text(value: object, field: str, longest: int, shortest: int = 1) -> str:
    """A stripped string of `shortest`..`longest` characters, else BadPost naming the field."""
    if not isinstance(value, str):
        raise BadPost(field, f"{field} 必须是文字")
    text = value.strip()
    if len(text) < shortest:
        raise BadPost(field, f"{field} 不能为空" if shortest == 1 else f"{field} 至少{shortest}个字")
    if len(text) > longest:
        raise BadPost(field, f"{field} 不超过{longest}个字")
    return text


def banned_until(bans: Iterable[str], now: datetime) -> str | None:
    """The latest end among active bans (ISO text), or None when the resident may post."""
    active = [until for until in bans if datetime.fromisoformat(until) > now]
    return max(active) if active else None
