"""Personal fields at rest: ID numbers and phones sealed (AES-256-GCM), indexed (HMAC-SHA256)
and masked from their last digits.

The master key lives in a key file outside the database (config points to it, e.g.
var/keys/basedata.key), so a copy of the database alone reveals no one. Two sub-keys are
derived from it with HKDF, one to encrypt and one to index, so the index key can never be
used to decrypt. The field's kind ("id_number", "phone") is bound into both: it is the
AES-GCM associated data (an ID cipher cannot be passed off as a phone) and prefixes the
HMAC input (equal digits in two kinds give unrelated indexes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path
from typing import Any, Literal, get_args

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from basedata.identity import check_id_number, check_phone
from basedata.model import Sealed

FieldKind = Literal["id_number", "phone"]
FIELD_KINDS: frozenset[str] = frozenset(get_args(FieldKind))
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
CIPHER_PREFIX = "v1:"  # the format's version, so a later scheme can be told apart and rotated to
NONCE_POOL = 1024  # nonces a BulkSealer draws at once
HMAC_BLOCK = 64  # SHA-256's block: a 32-byte key is padded to it (RFC 2104)
KIND_BYTES: dict[str, bytes] = {kind: kind.encode() for kind in FIELD_KINDS}  # the AES-GCM associated data


class FieldKeyError(ValueError):
    """The key file is missing, malformed, or would be overwritten."""


class SealError(Exception):
    """A sealed field cannot be opened: tampered, sealed under another key, or of another kind."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose).derive(master)


class FieldKey:
    """The master key, read from its key file (one line of base64, 32 bytes), and its two
    derived sub-keys."""

    __slots__ = ("aes_key", "mac_key", "path")

    def __init__(self, master: bytes, path: Path | None = None) -> None:
        if len(master) != KEY_BYTES:
            raise FieldKeyError(f"a field key has {KEY_BYTES} bytes, not {len(master)}")
        self.path = path
        self.aes_key = _derive(master, b"command-center basedata aes-256-gcm v1")
        self.mac_key = _derive(master, b"command-center basedata hmac-sha256 v1")

    @classmethod
    def generate(cls, path: str | os.PathLike[str]) -> FieldKey:
        """Writes a new random key to `path` (mode 0600, parents made 0700). Never overwrites:
        a replaced key would make every sealed field unreadable."""
        target = Path(path)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        master = os.urandom(KEY_BYTES)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise FieldKeyError(f"{target}: a key file is already there; refusing to overwrite it") from None
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(base64.b64encode(master).decode("ascii") + "\n")
            out.flush()
            os.fsync(out.fileno())  # the key must survive a crash that the data it seals survives
        return cls(master, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FieldKey:
        """Reads the key file, naming the path in every error."""
        source = Path(path)
        try:
            text = source.read_text(encoding="ascii")
        except FileNotFoundError:
            raise FieldKeyError(f"{source}: no key file (create one with FieldKey.generate)") from None
        except (OSError, UnicodeDecodeError) as error:
            raise FieldKeyError(f"{source}: cannot read the key file ({error})") from None
        lines = text.splitlines()
        if len(lines) != 1:
            raise FieldKeyError(f"{source}: a key file holds one line of base64, found {len(lines)} lines")
        try:
            master = base64.b64decode(lines[0].strip(), validate=True)
        except binascii.Error:
            raise FieldKeyError(f"{source}: the key is not base64") from None
        if len(master) != KEY_BYTES:
            raise FieldKeyError(f"{source}: the key has {len(master)} bytes, not {KEY_BYTES}")
        return cls(master, source)


def normalise(kind: str, value: str) -> str:
    """The canonical form sealed and indexed, so '110105 19491231 002x' and
    '11010519491231002X' find the same record. Raises ValueError for an invalid value."""
    if kind == "id_number":
        return check_id_number(value).number
    if kind == "phone":
        return check_phone(value)
    raise ValueError(f"unknown personal field kind {kind!r} (expected one of {sorted(FIELD_KINDS)})")


class FieldCipher:
    """Seals, opens and indexes personal fields under one FieldKey."""

    __slots__ = ("_aead", "_inner", "_mac_key", "_outer")

    def __init__(self, key: FieldKey) -> None:
        self._aead = AESGCM(key.aes_key)
        self._mac_key = key.mac_key
        # HMAC (RFC 2104) with its keyed SHA-256 states made once, the inner one per kind
        # with "kind:" already in: hmac.digest sets the key up again on every call, a third
        # of an index's time over an import's millions.
        padded = key.mac_key.ljust(HMAC_BLOCK, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._inner: dict[str, Any] = {}
        for kind in FIELD_KINDS:
            self._inner[kind] = inner.copy()
            self._inner[kind].update(f"{kind}:".encode())
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def _index(self, kind: str, normalised: str) -> str:
        inner = self._inner[kind].copy()
        inner.update(normalised.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()  # = hmac.digest(mac_key, b"kind:value", sha256).hex()

    def index(self, kind: FieldKind, value: str) -> str:
        """The lookup index of a value (normalised first)."""
        return self._index(kind, normalise(kind, value))

    def seal(self, kind: FieldKind, value: str) -> Sealed:
        """The value normalised, encrypted under a fresh random nonce, indexed, and its last
        four characters kept for masked display."""
        cipher, index, tail = self.seal_parts(kind, normalise(kind, value))
        return Sealed(cipher=cipher, index=index, tail=tail)

    def seal_parts(self, kind: FieldKind, clear: str) -> tuple[str, str, str]:
        """seal's cipher, index and tail of a value the caller has already normalised (the
        importer checks each ID number once: identity's check is the normalisation)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, clear.encode(), KIND_BYTES[kind])
        cipher = CIPHER_PREFIX + binascii.b2a_base64(nonce + sealed, newline=False).decode("ascii")
        return cipher, self._index(kind, clear), clear[-4:]

    def bulk(self) -> BulkSealer:
        """A sealer for one thread sealing many values (an import)."""
        return BulkSealer(self)

    def open(self, kind: FieldKind, sealed: Sealed) -> str:
        """The clear value, or SealError if the cipher was altered, sealed under another key or
        for another kind, or does not belong with its index."""
        if kind not in FIELD_KINDS:
            raise ValueError(f"unknown personal field kind {kind!r}")
        if not sealed.cipher.startswith(CIPHER_PREFIX):
            raise SealError(f"sealed {kind} has an unknown format (expected {CIPHER_PREFIX!r})")
        try:
            blob = base64.b64decode(sealed.cipher[len(CIPHER_PREFIX) :], validate=True)
        except binascii.Error:
            raise SealError(f"sealed {kind} is not base64") from None
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise SealError(f"sealed {kind} is too short")
        try:
            clear = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], kind.encode()).decode()
        except InvalidTag:
            raise SealError(f"sealed {kind} does not open: altered, another key, or another kind") from None
        # Index and tail are checked too: a cipher copied onto another record would otherwise
        # open there while lookups and masked lists showed someone else.
        if not hmac.compare_digest(self._index(kind, clear), sealed.index) or clear[-4:] != sealed.tail:
            raise SealError(f"sealed {kind} does not match its index or tail")
        return clear


class BulkSealer:
    """FieldCipher.seal_parts for one thread sealing millions of values: the same ciphers
    (a fresh random 12-byte nonce each, from os.urandom), drawn NONCE_POOL at a time, one
    system call instead of one a value. Never shared between threads: a nonce twice under
    one key would break AES-GCM."""

    __slots__ = ("_at", "_encrypt", "_inner", "_outer", "_pool")

    def __init__(self, cipher: FieldCipher) -> None:
        self._encrypt = cipher._aead.encrypt
        self._inner, self._outer = cipher._inner, cipher._outer
        self._pool = b""
        self._at = 0

    def seal(self, kind: FieldKind, clear: str) -> tuple[str, str, str]:
        """FieldCipher.seal_parts (the value normalised by the caller): cipher, index, tail."""
        at = self._at
        if at + NONCE_BYTES > len(self._pool):
            self._pool, at = os.urandom(NONCE_BYTES * NONCE_POOL), 0
        nonce = self._pool[at : at + NONCE_BYTES]
        self._at = at + NONCE_BYTES
        data = clear.encode()
        sealed = self._encrypt(nonce, data, KIND_BYTES[kind])
        inner = self._inner[kind].copy()  # FieldCipher._index, inline: millions of calls
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        text = CIPHER_PREFIX + binascii.b2a_base64(nonce + sealed, newline=False).decode("ascii")
        return text, outer.hexdigest(), clear[-4:]


def mask_id(tail: str) -> str:
    """An ID number as lists show it, from its tail alone: '**************1234'."""
    return "*" * (18 - len(tail)) + tail


def mask_phone(tail: str) -> str:
    """A phone as lists show it, from its tail alone: '*******5678'."""
    return "*" * (11 - len(tail)) + tail
