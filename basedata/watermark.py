"""What makes an export of base data traceable to whoever made it (issue 19: "exports
watermarked with the user"): its unique id, its limits, and a mark in the masked values
that survives copy and paste of the rows.

Pure domain, no I/O: api/basedata_export.py writes the files (the visible watermark: who,
when and the id on every printed page, an info sheet, the document's properties, a CSV's
first line) and audits each export under its id.

**The mark.** A masked ID number or phone is asterisks and the last digits
(basedata.protect.mask_id / mask_phone): the asterisks say nothing, so each may be one of
two characters that read alike, U+002A ASTERISK or U+2217 ASTERISK OPERATOR, one bit each.
Every masked value of an export carries the same bits: the first MARK_BITS bits of SHA-256
over the export's id (its fingerprint; a phone's 7 asterisks carry the first 7). Rows pasted
anywhere as text (a chat, a document, another sheet) keep their characters, so the bits read
back from one masked ID number narrow the audit log's exports to those whose fingerprint
agrees: one in 16,384 by chance, fewer once the kind, area and time are matched too.

This is homoglyph substitution (Rizzo, Bertini, Montesi: "Content-preserving text
watermarking through Unicode homoglyph substitution", IDEAS 2016). It is a fingerprint, not
a lock: retyping the values or replacing every ∗ with * removes it, and an export of clear
values (reveal) or of a kind without masked fields (addresses, buildings, households) has no
masks to carry it: there the visible watermark and the audit row are what remain.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PLAIN, MARKED = "*", "\u2217"  # bit 0, bit 1
MARK_BITS = 14  # the asterisks of a masked ID number (18 characters, the last 4 shown)
# A run of mask characters before the digits they hide (at least 4: a phone's mask has 7).
_MASK_RUN = re.compile(f"[{re.escape(PLAIN)}{MARKED}]{{4,}}(?=[0-9Xx-])")
ExportRole = Literal["officer", "admin"]  # the hall's roles (auth/policy.py opens exports to them)
ExportFormat = Literal["xlsx", "csv"]


def _hall() -> list[ExportRole]:
    return ["officer", "admin"]


class ExportPolicy(BaseModel):
    """Who may export base data and how much at once (config `basedata.export`)."""

    model_config = ConfigDict(extra="forbid")

    max_rows: int = Field(
        default=100_000, ge=1, le=5_000_000,
        description="records one export may hold; past it the export is refused (400) and the area is to be narrowed",
    )  # fmt: skip
    roles: list[ExportRole] = Field(
        default_factory=_hall,
        description="roles that may export (each export audited); clear ID numbers and phones also need basedata.reveal_roles",
    )


def new_export_id(now: datetime) -> str:
    """Unique per export, readable by a person: EX<UTC time>-<8 random hex digits>."""
    return f"EX{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


def fingerprint(export_id: str) -> int:
    """The export's MARK_BITS bits, the first of them the highest."""
    digest = hashlib.sha256(f"cc-export-mark:{export_id}".encode()).digest()
    return int.from_bytes(digest[:2], "big") >> (16 - MARK_BITS)


def _bit(fp: int, position: int) -> int:
    return (fp >> (MARK_BITS - 1 - position)) & 1


def mark(masked: str, fp: int) -> str:
    """A masked value with its asterisks carrying the fingerprint's bits, in order."""
    out: list[str] = []
    position = 0
    for char in masked:
        if char == PLAIN and position < MARK_BITS:
            out.append(MARKED if _bit(fp, position) else PLAIN)
            position += 1
        else:
            out.append(char)
    return "".join(out)


def read_marks(text: str) -> list[tuple[int, int]]:
    """The marks found in pasted text: (bits, how many) per masked value, longest first."""
    found = set()
    for run in _MASK_RUN.findall(text):
        bits = run[:MARK_BITS]
        value = 0
        for char in bits:
            value = value << 1 | (char == MARKED)
        found.add((value, len(bits)))
    return sorted(found, key=lambda m: (-m[1], m[0]))


def agrees(export_id: str, marks: Iterable[tuple[int, int]]) -> bool:
    """Whether every mark read agrees with the export's fingerprint (at least one read)."""
    fp, seen = fingerprint(export_id), False
    for value, count in marks:
        seen = True
        if fp >> (MARK_BITS - count) != value:
            return False
    return seen


def header_text(text: str) -> str:
    """Text safe in a spreadsheet's page header or footer, where & starts a code."""
    return text.replace("&", "&&")
