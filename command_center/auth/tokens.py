"""Signed bearer tokens: JWT (RFC 7519) with HS256, made with the standard library.

Claims: sub (username), role, jur (jurisdiction prefix), wid (worker id), iat, exp.
A token is checked by signature and expiry only, so a request needs no database
read; a disabled user's tokens therefore live until they expire (token_ttl_s).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

from command_center.auth.principal import ROLES, Principal

SECRET_FILE = "auth.secret"
_HEADER = {"alg": "HS256", "typ": "JWT"}
MAX_TOKEN = 4096  # far above any token we issue; longer input is refused before any work


class TokenError(Exception):
    """Why a token was refused, in words fit for the 401 answer."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
            "iat": int(now),
            "exp": exp,
        }
        head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
        body = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
        signing_input = f"{head}.{body}"
        return f"{signing_input}.{_b64(self._sign(signing_input))}", float(exp)

    def verify(self, token: str, now: float | None = None) -> Principal:
        if not token or len(token) > MAX_TOKEN or token.count(".") != 2:
            raise TokenError("malformed token")
        head, body, sig = token.split(".")
        try:
            given = _unb64(sig)
        except ValueError:
            raise TokenError("malformed token") from None
        # The signature first: nothing of an unsigned token is parsed or trusted.
        if not hmac.compare_digest(given, self._sign(f"{head}.{body}")):
            raise TokenError("bad signature")
        try:
            header = json.loads(_unb64(head))
            claims = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            raise TokenError("malformed token") from None
        if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
            raise TokenError("unsupported token")
        exp, sub, role = claims.get("exp"), claims.get("sub"), claims.get("role")
        if not isinstance(exp, int | float) or not isinstance(sub, str) or role not in ROLES:
            raise TokenError("malformed claims")
        if (time.time() if now is None else now) >= exp:
            raise TokenError("token expired")
        jur, wid = claims.get("jur") or "", claims.get("wid")
        if not isinstance(jur, str) or not (wid is None or isinstance(wid, str)):
            raise TokenError("malformed claims")
        return Principal(sub, role, jur, wid, float(exp))

    def _sign(self, signing_input: str) -> bytes:
        return hmac.new(self._key, signing_input.encode("ascii"), hashlib.sha256).digest()


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
