"""Accounts: sign-in against the store, creating users, and the accounts seeded at start.

The demo seeds fixed, documented passwords (DESIGN §3): admin/admin, officer/officer
(whole city), district/district (one district), emergency/emergency, and every worker
under their worker id with password `worker`. All workers share one hash of that
password: hashing 22,000 passwords one by one would take hours of argon2, and they
are demo passwords anyway. `serve` on an empty user table seeds admin, officer and
emergency with random passwords, printed once; workers are added with POST /api/users.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from command_center.auth.passwords import Passwords
from command_center.auth.principal import ROLES, Principal, normalize_jurisdiction
from command_center.store import Store

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8  # for accounts made through the API; the demo's are shorter on purpose
MAX_PASSWORD = 256


class UserExists(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    password: str
    role: str
    jurisdiction: str = ""
    worker_id: str | None = None
    note: str = ""


def _row(account: Account, password_hash: str) -> dict[str, Any]:
    return {
        "username": account.username,
        "password_hash": password_hash,
        "role": account.role,
        "jurisdiction": account.jurisdiction,
        "worker_id": account.worker_id,
        "created_at": datetime.now(UTC).isoformat(),
        "disabled": 0,
    }


def public_view(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "password_hash"} | {"disabled": bool(row.get("disabled"))}


class Users:
    """Blocking calls (argon2, SQLite): run them on a worker thread."""

    def __init__(self, store: Store, passwords: Passwords) -> None:
        self.store = store
        self.passwords = passwords

    def authenticate(self, username: str, password: str) -> Principal | None:
        row = self.store.get_user(username)
        ok = self.passwords.verify(row["password_hash"] if row else None, password)
        if not ok or row is None or row["disabled"]:
            return None
        if self.passwords.needs_rehash(row["password_hash"]):  # cost settings were raised
            self.store.update_user(username, password_hash=self.passwords.hash(password))
        return Principal(row["username"], row["role"], row["jurisdiction"] or "", row["worker_id"])

    def create(self, account: Account, known_workers: set[str] | None = None) -> dict[str, Any]:
        """Validated and stored; ValueError says what is wrong, UserExists when the name is taken."""
        if not USERNAME.match(account.username):
            raise ValueError("username: 1–64 letters, digits or _ . @ -")
        if account.role not in ROLES:
            raise ValueError(f"role: one of {', '.join(ROLES)}")
        if not MIN_PASSWORD <= len(account.password) <= MAX_PASSWORD:
            raise ValueError(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        jurisdiction = normalize_jurisdiction(account.jurisdiction)
        if account.role == "worker":
            if not account.worker_id or (known_workers is not None and account.worker_id not in known_workers):
                raise ValueError("worker_id: a worker account needs the id of a known worker")
        elif account.worker_id:
            raise ValueError("worker_id: only for role worker")
        account = Account(account.username, account.password, account.role, jurisdiction, account.worker_id)
        row = _row(account, self.passwords.hash(account.password))
        if self.store.add_users([row]) == 0:
            raise UserExists(account.username)
        return public_view(row)

    def seed(self, accounts: list[Account]) -> int:
        """Store the accounts not there yet, hashing each distinct password once."""
        hashes = {pw: self.passwords.hash(pw) for pw in {a.password for a in accounts}}
        return self.store.add_users(_row(a, hashes[a.password]) for a in accounts)

    def empty(self) -> bool:
        return self.store.list_users(limit=1)[1] == 0


def demo_accounts(worker_ids: list[str], district_code: str, district_name: str) -> list[Account]:
    return [
        Account("admin", "admin", "admin", note="administrator, whole city"),
        Account("officer", "officer", "officer", note="duty officer, whole city"),
        Account("district", "district", "officer", district_code, note=f"duty officer, {district_name} only"),
        Account("emergency", "emergency", "emergency", note="emergency lead, whole city"),
        *(Account(w, "worker", "worker", worker_id=w) for w in worker_ids),
    ]


def first_accounts() -> list[Account]:
    """For a fresh production store: random passwords, shown once."""
    return [
        Account(name, secrets.token_urlsafe(12), role, note=note)
        for name, role, note in (
            ("admin", "admin", "administrator"),
            ("officer", "officer", "duty officer, whole city"),
            ("emergency", "emergency", "emergency lead"),
        )
    ]
