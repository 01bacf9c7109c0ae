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


class UnknownUser(Exception):
    pass


class AccountUnusable(Exception):
    """The password is right but the account cannot sign in (the reason is the message)."""


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
        "token_version": 0,
    }


def account_rows(accounts: list[Account], password_hash: str) -> list[dict[str, Any]]:
    """Store rows for accounts sharing one password hash (an import's new accounts: one
    argon2 run, not one per account)."""
    return [_row(a, password_hash) for a in accounts]


def principal_of_row(row: dict[str, Any]) -> Principal:
    return Principal(
        row["username"], row["role"], row["jurisdiction"] or "", row["worker_id"], None, int(row["token_version"] or 0)
    )


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")


def check_role(role: str, worker_id: str | None, known_workers: set[str] | None) -> None:
    """ValueError unless the role and worker id go together (a worker needs a known one)."""
    if role not in ROLES:
        raise ValueError(f"role: one of {', '.join(ROLES)}")
    if role == "worker":
        if not worker_id or (known_workers is not None and worker_id not in known_workers):
            raise ValueError("worker_id: a worker account needs the id of a known worker")
    elif worker_id:
        raise ValueError("worker_id: only for role worker")


def public_view(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "password_hash"} | {"disabled": bool(row.get("disabled"))}


def in_scope(admin: Principal, row: dict[str, Any]) -> bool:
    """Is this account one `admin` manages? A city admin manages all; a district admin only
    accounts whose jurisdiction lies inside theirs, never a city-wide one. Worker accounts
    are scoped the same way: they get their worker's district when made (api/auth.py)."""
    if not admin.jurisdiction:
        return True
    jurisdiction = row.get("jurisdiction") or ""
    return bool(jurisdiction) and jurisdiction.startswith(admin.jurisdiction)


def check_grant(admin: Principal, jurisdiction: str) -> None:
    """PermissionError unless `admin` may give an account this (normalized) jurisdiction: a
    district admin gives only areas inside theirs, so no city-wide account nor one above them."""
    if admin.jurisdiction and not (jurisdiction and jurisdiction.startswith(admin.jurisdiction)):
        shown = jurisdiction or "the whole city"
        raise PermissionError(f"jurisdiction {shown} is outside yours ({admin.jurisdiction})")


def new_password() -> str:
    """A random password for an account made or reset without one (shown once)."""
    return secrets.token_urlsafe(12)


class Users:
    """Blocking calls (argon2, SQLite): run them on a worker thread."""

    def __init__(self, store: Store, passwords: Passwords) -> None:
        self.store = store
        self.passwords = passwords

    def authenticate(self, username: str, password: str) -> Principal | None:
        """The account's principal, or None for a wrong name or password or a disabled
        account; AccountUnusable when the password is right but the account cannot work."""
        row = self.store.get_user(username)
        ok = self.passwords.verify(row["password_hash"] if row else None, password)
        if not ok or row is None or row["disabled"]:
            return None
        if row["role"] == "worker" and not row["worker_id"]:  # it would fail open (finding 21)
            raise AccountUnusable("a worker account without a worker id cannot sign in; ask an admin to set one")
        if self.passwords.needs_rehash(row["password_hash"]):  # cost settings were raised
            self.store.update_user(username, password_hash=self.passwords.hash(password))
        return principal_of_row(row)

    def create(self, account: Account, known_workers: set[str] | None = None) -> dict[str, Any]:
        """Validated and stored; ValueError says what is wrong, UserExists when the name is taken."""
        if not USERNAME.match(account.username):
            raise ValueError("username: 1–64 letters, digits or _ . @ -")
        check_role(account.role, account.worker_id, known_workers)
        check_password(account.password)
        jurisdiction = normalize_jurisdiction(account.jurisdiction)
        account = Account(account.username, account.password, account.role, jurisdiction, account.worker_id)
        row = _row(account, self.passwords.hash(account.password))
        if self.store.add_users([row]) == 0:
            raise UserExists(account.username)
        return public_view(row)

    def seed(self, accounts: list[Account]) -> int:
        """Store the accounts not there yet, hashing each distinct password once."""
        hashes = {pw: self.passwords.hash(pw) for pw in {a.password for a in accounts}}
        return self.store.add_users(_row(a, hashes[a.password]) for a in accounts)

    # account changes (api/auth.py): each one that changes what a token says, or who may
    # hold one, bumps token_version, which revokes every token issued before
    def row(self, username: str) -> dict[str, Any]:
        row = self.store.get_user(username)
        if row is None:
            raise UnknownUser(username)
        return row

    def _save(self, row: dict[str, Any], revoke: bool, **fields: Any) -> dict[str, Any]:
        if revoke:
            fields["token_version"] = int(row["token_version"] or 0) + 1
        if fields:
            self.store.update_user(row["username"], **fields)
        return public_view(row | fields)

    def change_password(self, username: str, old: str, new: str) -> dict[str, Any] | None:
        """The account after the change; None when `old` is not its password."""
        row = self.row(username)
        if not self.passwords.verify(row["password_hash"], old):
            return None
        check_password(new)
        if new == old:
            raise ValueError("password: the new password is the current one")
        return self._save(row, True, password_hash=self.passwords.hash(new))

    def reset_password(self, username: str, new: str | None = None) -> tuple[dict[str, Any], str]:
        """(the account, its new password): the one given, or a random one."""
        row = self.row(username)
        password = new if new is not None else new_password()
        check_password(password)
        return self._save(row, True, password_hash=self.passwords.hash(password)), password

    def set_disabled(self, username: str, disabled: bool) -> dict[str, Any]:
        row = self.row(username)
        if bool(row["disabled"]) == disabled:
            return public_view(row)
        # Disabling revokes; enabling does not need to (tokens from before were revoked then).
        return self._save(row, disabled, disabled=int(disabled))

    def update(self, username: str, changes: dict[str, Any], known_workers: set[str] | None = None) -> dict[str, Any]:
        """Change role, jurisdiction and/or worker_id (ValueError says what is wrong)."""
        row = self.row(username)
        role = changes.get("role", row["role"])
        worker_id = changes.get("worker_id", row["worker_id"]) if role == "worker" else changes.get("worker_id")
        check_role(role, worker_id, known_workers)
        jurisdiction = normalize_jurisdiction(changes.get("jurisdiction", row["jurisdiction"] or ""))
        new = {"role": role, "jurisdiction": jurisdiction, "worker_id": worker_id or None}
        fields = {k: v for k, v in new.items() if v != (row[k] or ("" if k == "jurisdiction" else None))}
        return self._save(row, bool(fields), **fields)

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
