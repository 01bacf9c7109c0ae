"""Who is calling: a user with a role and a jurisdiction (a grid-code prefix).

A jurisdiction is the significant digits of an area's code: "" is the whole city,
"440104" a district, "440104001" a street. Everything that carries a grid code is in
a jurisdiction when its code starts with that prefix (codes are hierarchical), so
scoping is one string comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dispatch.city.codes import is_code, level_of, significant_digits

Role = Literal["officer", "worker", "emergency", "admin"]
ROLES: tuple[Role, ...] = ("officer", "worker", "emergency", "admin")
STAFF: frozenset[str] = frozenset({"officer", "emergency", "admin"})
# What a worker may do to a case assigned to them; the checks (核查) stay with officers.
WORKER_ACTIONS = frozenset({"accept", "start", "feedback", "defer", "resume", "transfer"})
UNLOCATED = "-"  # the area of a located thing whose place is unknown: matches no prefix but ""


def normalize_jurisdiction(raw: str) -> str:
    """A code prefix from a prefix or a full 15-digit area code ("440104000000000" → "440104")."""
    raw = raw.strip()
    if raw and not (raw.isdigit() and len(raw) <= 15):
        raise ValueError("a jurisdiction is a grid-code prefix of up to 15 digits, or empty for the whole city")
    if is_code(raw):
        level = level_of(raw)
        return "" if level == "city" else raw[: significant_digits(level)]
    return raw


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    role: Role
    jurisdiction: str = ""
    worker_id: str | None = None
    expires_at: float | None = None
    # The account's token_version when the token was issued: a token of an older version is
    # revoked (password, role or jurisdiction changed, account disabled; auth/sessions.py).
    token_version: int = 0

    def __post_init__(self) -> None:
        # Fail closed (finding 21): a worker without a worker id sees no case, not every case.
        if self.role == "worker" and not self.worker_id:
            object.__setattr__(self, "worker_id", "")

    @property
    def is_worker(self) -> bool:
        return self.role == "worker"

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    @property
    def actor(self) -> str:
        """The name recorded on what this principal does (a worker acts under their worker id)."""
        return self.worker_id if self.is_worker and self.worker_id else self.user

    def sees_area(self, code: str | None) -> bool:
        """Is a thing filed under `code` inside this principal's jurisdiction? An unlocated
        thing (None) belongs to the city as a whole."""
        if not self.jurisdiction:
            return True
        return code is not None and code.startswith(self.jurisdiction)

    def sees_case(self, grid_code: str | None, assignee: str | None) -> bool:
        if self.is_worker:
            return bool(self.worker_id) and assignee == self.worker_id
        return self.sees_area(grid_code)

    def narrow(self, prefix: str | None) -> str | None:
        """A requested grid prefix, narrowed to the jurisdiction; raises ValueError when the
        two do not overlap."""
        if not self.jurisdiction:
            return prefix
        if prefix is None or self.jurisdiction.startswith(prefix):
            return self.jurisdiction
        if prefix.startswith(self.jurisdiction):
            return prefix
        raise ValueError(f"grid {prefix!r} is outside jurisdiction {self.jurisdiction!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.user,
            "role": self.role,
            "jurisdiction": self.jurisdiction,
            "worker_id": self.worker_id,
            "expires_at": self.expires_at,
        }
