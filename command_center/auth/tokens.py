"""Signed bearer tokens: JWT (RFC 7519) made and checked by PyJWT, HS256 pinned.

Claims: sub (username), role, jur (jurisdiction prefix), wid (worker id), ver (the
account's token_version when issued), iat, exp; all but jur and wid required. The
signature and expiry are checked here without a database read; whether the account
still stands behind the token (not disabled, same token_version) is the sessions'
check (auth/sessions.py), cached per user for about a second.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

import jwt

from command_center.auth.principal import ROLES, Principal

SECRET_FILE = "auth.secret"
ALGORITHM = "HS256"  # the only one accepted: a token naming another ("none", RS256) is refused
REQUIRED = ["exp", "iat", "sub", "role", "ver"]
MAX_TOKEN = 4096  # far above any token we issue; longer input is refused before any work


class TokenError(Exception):
    """Why a token was refused, in words fit for the 401 answer."""


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "token expired"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "unsupported token"
    if isinstance(exc, jwt.DecodeError):
        return "malformed token"
    return "malformed claims"  # missing or badly typed claims, iat in the future


class TokenSigner:
    def __init__(self, secret: bytes, ttl_s: float) -> None:
        if len(secret) < 32:
            raise ValueError("the token secret must be at least 32 bytes")
        self._key = secret
        self.ttl_s = ttl_s

    def issue(self, principal: Principal, now: float | None = None) -> tuple[str, float]:
        """(token, expiry as a Unix time)."""
        now = time.time() if now is None else now
        exp = int(now + self.ttl_s)
        claims = {
            "sub": principal.user,
            "role": principal.role,
            "jur": principal.jurisdiction,
            "wid": principal.worker_id,
            "ver": principal.token_version,
            "iat": int(now),
            "exp": exp,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), float(exp)

    def verify(self, token: str) -> Principal:
        # Non-ASCII can never be a JWT (base64url and dots): refused before any decoding.
        if not token or len(token) > MAX_TOKEN or not token.isascii() or token.count(".") != 2:
            raise TokenError("malformed token")
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], options={"require": REQUIRED, "verify_iat": False}
            )  # iat is not checked against this clock: nodes' clocks differ by a little
        except jwt.PyJWTError as exc:
            raise TokenError(_reason(exc)) from None
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    sub, role, ver = claims["sub"], claims["role"], claims["ver"]
    jur, wid = claims.get("jur") or "", claims.get("wid")
    if not isinstance(sub, str) or role not in ROLES or not isinstance(jur, str):
        raise TokenError("malformed claims")
    if not isinstance(ver, int) or isinstance(ver, bool) or not (wid is None or isinstance(wid, str)):
        raise TokenError("malformed claims")
    if role == "worker" and not wid:
        raise TokenError("malformed claims")  # a worker token names its worker (finding 21)
    return Principal(sub, role, jur, wid, float(claims["exp"]), ver)


def load_or_create_secret(data_dir: Path) -> bytes:
    """The key kept under the data dir, made on first use (readable by the owner only), so
    tokens survive a restart and every process on that data dir agrees on it."""
    path = data_dir / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())
    return key
