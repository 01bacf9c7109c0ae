"""A resident's session token: a JWT like the staff's, but under a key of its own.

The key is derived (HKDF) from the server's token secret with a purpose of its own, and the
token names its audience "resident": a resident token fails a staff check (bad signature) and
a staff token fails this one, so no staff route accepts a resident and no resident route
accepts staff. `ver` is the resident's token version: signing out bumps it, and every token
issued before is refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALGORITHM = "HS256"
AUDIENCE = "resident"
MAX_TOKEN = 4096


class ResidentTokenError(Exception):
    """Why a resident token was refused (in words for the 401)."""


@dataclass(frozen=True, slots=True)
class ResidentClaims:
    resident_id: str
    version: int
    expires_at: float


def derive_key(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


class ResidentSigner:
    def __init__(self, secret: bytes, ttl_s: float) -> None:
        self._key = derive_key(secret, b"command-center/residents/token")
        self.ttl_s = ttl_s

    def issue(self, resident_id: str, version: int, now: float | None = None) -> tuple[str, float]:
        now = time.time() if now is None else now
        exp = int(now + self.ttl_s)
        claims = {"sub": resident_id, "aud": AUDIENCE, "ver": version, "iat": int(now), "exp": exp}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), float(exp)

    def verify(self, token: str) -> ResidentClaims:
        if not token or len(token) > MAX_TOKEN or not token.isascii() or token.count(".") != 2:
            raise ResidentTokenError("malformed token")
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], audience=AUDIENCE,
                options={"require": ["exp", "sub", "aud", "ver"], "verify_iat": False},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise ResidentTokenError("token expired") from None
        except jwt.PyJWTError:
            raise ResidentTokenError("not a resident token") from None
        sub, ver = claims["sub"], claims["ver"]
        if not isinstance(sub, str) or not isinstance(ver, int) or isinstance(ver, bool):
            raise ResidentTokenError("malformed claims")
        return ResidentClaims(sub, ver, float(claims["exp"]))
