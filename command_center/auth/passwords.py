"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._hasher = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        if not stored and self._decoy is None:
            self._decoy = self._hasher.hash("decoy password, never valid")
        try:
            # An unknown user is checked against a decoy, so a wrong name costs as long as a
            # wrong password and response times do not tell which names exist.
            return self._hasher.verify(stored or self._decoy or "", password) and bool(stored)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """True when `stored` was made with other cost settings than the current ones."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return False
