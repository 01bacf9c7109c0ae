"""Per-device publish keys: a drone or a fixed WHIP camera proves it may publish one stream.

A key is `cck_<id>_<secret>`: the id finds the row, the secret is checked against the
SHA-256 stored there, in constant time. The secret is 32 random bytes, shown once (when
made or rotated) and never stored. A plain hash is enough here, unlike for passwords:
argon2's cost exists to slow guessing of low-entropy human secrets, and 256 random bits
cannot be guessed however fast the hash is; a fast hash also keeps a drone's telemetry
posts (about one a second) cheap to check.

Keys live in the store, not in memory, so rotating or revoking one takes effect on the
next request on every node.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from command_center.store import Store

PREFIX = "cck_"
ID_BYTES = 6  # 12 hex characters: a lookup handle, not a secret
SECRET_BYTES = 32
MAX_NAME = 80
MAX_NOTE = 500


@dataclass(frozen=True, slots=True)
class PublishKey:
    id: str
    name: str
    stream: str  # the stream id (whip://<stream>) or camera id it may publish for
    note: str
    created_at: str
    created_by: str
    rotated_at: str | None = None
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, *names: str) -> bool:
        """Is this key for one of `names` (a camera's id and its WHIP stream id)?"""
        return self.active and self.stream in names

    def to_dict(self) -> dict[str, Any]:
        """What the API shows: everything but the secret's hash."""
        return {
            "id": self.id,
            "name": self.name,
            "stream": self.stream,
            "note": self.note,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "rotated_at": self.rotated_at,
            "revoked_at": self.revoked_at,
            "active": self.active,
        }


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _key(row: dict[str, Any]) -> PublishKey:
    return PublishKey(**{k: v for k, v in row.items() if k != "secret_hash"})


def _token(key_id: str, secret: str) -> str:
    return f"{PREFIX}{key_id}_{secret}"


def _split(token: str) -> tuple[str, str] | None:
    """`cck_<id>_<secret>` → (id, secret); None for anything else. The secret is
    URL-safe base64 and may itself hold '_': the id (hex) is what ends at the first one."""
    if not token.startswith(PREFIX):
        return None
    key_id, sep, secret = token[len(PREFIX) :].partition("_")
    if not sep or len(key_id) != ID_BYTES * 2 or not secret or len(secret) > 128:
        return None
    if not all(c in "0123456789abcdef" for c in key_id):
        return None
    return key_id, secret


class PublishKeys:
    """The keys in a store. Blocking (store calls): run on a thread from async code."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, stream: str, note: str, created_by: str) -> tuple[PublishKey, str]:
        """A new key → (the key, its token: shown once)."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        row: dict[str, Any] = {
            "id": secrets.token_hex(ID_BYTES),
            "name": name,
            "stream": stream,
            "note": note,
            "secret_hash": _hash(secret),
            "created_at": _now(),
            "created_by": created_by,
            "rotated_at": None,
            "revoked_at": None,
        }
        self.store.add_publish_key(row)
        return _key(row), _token(row["id"], secret)

    def get(self, key_id: str) -> PublishKey | None:
        row = self.store.get_publish_key(key_id)
        return _key(row) if row else None

    def list(self) -> list[PublishKey]:
        return [_key(row) for row in self.store.list_publish_keys()]

    def rotate(self, key_id: str) -> tuple[PublishKey, str] | None:
        """A new secret for an active key; the old one stops working now. None: no such active key."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        if not self.store.update_publish_key(key_id, secret_hash=_hash(secret), rotated_at=_now()):
            return None
        key = self.get(key_id)
        return (key, _token(key_id, secret)) if key else None

    def revoke(self, key_id: str) -> PublishKey | None:
        """Revoke an active key (its row stays, for the audit log). None: no such active key."""
        if not self.store.update_publish_key(key_id, revoked_at=_now()):
            return None
        return self.get(key_id)

    def verify(self, token: str) -> PublishKey | None:
        """The active key this token is, or None (malformed, unknown, revoked, wrong secret)."""
        parts = _split(token)
        if parts is None:
            return None
        row = self.store.get_publish_key(parts[0])
        if row is None or row["revoked_at"] is not None:
            return None
        if not hmac.compare_digest(_hash(parts[1]), row["secret_hash"]):
            return None
        return _key(row)
