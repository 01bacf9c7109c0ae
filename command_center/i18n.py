"""The message catalogues, one per language: `ui/i18n/<lang>/*.json` merged into one.

The pages load a language's catalogue from `/api/i18n/<lang>` (ui/common/i18n.js); the
server reads the same files for what it writes in words (a case's description, a timeline
line), so a rule, label or state is named the same everywhere. Files are split by page
only so that pages can be worked on apart; a key lives in exactly one file.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "ui" / "i18n"
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


class CatalogueError(ValueError):
    """A catalogue file that is not a flat JSON object of strings, or a key in two files."""


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """Every message of a language, keyed; read once per process."""
    if lang not in LANGUAGES:
        raise KeyError(lang)
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    for path in sorted((CATALOGUE_DIR / lang).glob("*.json")):
        try:
            part = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CatalogueError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(part, dict):
            raise CatalogueError(f"{path}: expected a JSON object of key → message")
        for key, text in part.items():
            if not isinstance(text, str):
                raise CatalogueError(f"{path}: message {key!r} is not a string")
            if key in owner:
                raise CatalogueError(f"{path}: key {key!r} is already in {owner[key]}")
            owner[key] = path.name
            merged[key] = text
    return merged


def name(kind: str, key: str | None, lang: str = DEFAULT_LANGUAGE) -> str:
    """The name people read for an identifier (`name("rule", "illegal_parking")` → 违章停车);
    the identifier itself only when the catalogue has none (a city's own rule)."""
    if not key:
        return ""
    return catalogue(lang).get(f"{kind}.{key}", key)
