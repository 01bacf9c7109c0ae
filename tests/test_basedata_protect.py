"""Personal fields at rest: the key file, sealing and opening, lookup indexes, masks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
from pathlib import Path

import pytest

from basedata.model import Sealed
from basedata.protect import FieldCipher, FieldKey, FieldKeyError, SealError, mask_id, mask_phone

ID = "11010519491231002X"  # GB 11643's example; check digit worked by hand in test_basedata_identity


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "keys" / "basedata.key"


@pytest.fixture
def cipher(key_path: Path) -> FieldCipher:
    return FieldCipher(FieldKey.generate(key_path))


def test_a_new_key_file_is_private_and_never_overwritten(key_path: Path) -> None:
    made = FieldKey.generate(key_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    text = key_path.read_text()
    assert text.endswith("\n") and text.count("\n") == 1
    assert len(base64.b64decode(text.strip(), validate=True)) == 32
    with pytest.raises(FieldKeyError, match=f"{key_path}: a key file is already there; refusing"):
        FieldKey.generate(key_path)
    assert key_path.read_text() == text  # the old key, and with it every sealed field, survives
    loaded = FieldKey.load(key_path)
    assert (loaded.aes_key, loaded.mac_key) == (made.aes_key, made.mac_key)
    assert loaded.aes_key != loaded.mac_key  # two sub-keys: the index key cannot decrypt


def test_a_missing_key_file_names_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "basedata.key"
    with pytest.raises(FieldKeyError, match=f"{missing}: no key file"):
        FieldKey.load(missing)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not base64 at all!\n", "the key is not base64"),
        (base64.b64encode(bytes(16)).decode() + "\n", "the key has 16 bytes, not 32"),
        ("", "one line of base64, found 0 lines"),
        (base64.b64encode(bytes(32)).decode() + "\nextra\n", "found 2 lines"),
    ],
)
def test_a_malformed_key_file_names_its_path(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "basedata.key"
    path.write_text(content)
    with pytest.raises(FieldKeyError, match=f"{path}: .*{reason}"):
        FieldKey.load(path)


def test_sealed_values_open_normalised(cipher: FieldCipher) -> None:
    sealed = cipher.seal("id_number", "110105 19491231 002x")
    assert sealed.tail == "002X"
    assert cipher.open("id_number", sealed) == ID
    assert sealed.cipher.startswith("v1:")
    blob = base64.b64decode(sealed.cipher[3:])
    assert len(blob) == 12 + len(ID) + 16  # nonce, ciphertext, GCM tag
    assert ID.encode() not in blob
    phone = cipher.seal("phone", "+86 138-1234-5678")
    assert (cipher.open("phone", phone), phone.tail) == ("13812345678", "5678")
    landline = cipher.seal("phone", "(020) 8765 4321")
    assert cipher.open("phone", landline) == "020-87654321"


def test_same_value_same_index_fresh_nonce_each_time(cipher: FieldCipher) -> None:
    first, second = cipher.seal("id_number", ID), cipher.seal("id_number", ID.lower())
    assert first.cipher != second.cipher  # a fresh nonce: equal values do not show as equal
    assert first.index == second.index == cipher.index("id_number", " 110105 19491231 002X")
    assert cipher.index("phone", "13812345678") == cipher.index("phone", "+86 138 1234 5678")
    assert cipher.index("phone", "13812345678") != cipher.index("phone", "13812345679")


def test_the_kind_separates_indexes(key_path: Path) -> None:
    key = FieldKey.generate(key_path)
    index = FieldCipher(key).index("id_number", ID)
    mac = key.mac_key
    assert index == hmac.new(mac, f"id_number:{ID}".encode(), hashlib.sha256).hexdigest()
    assert index != hmac.new(mac, f"phone:{ID}".encode(), hashlib.sha256).hexdigest()
    assert index != hmac.new(mac, ID.encode(), hashlib.sha256).hexdigest()
    other = FieldCipher(FieldKey.generate(key_path.with_name("other.key")))
    assert other.index("id_number", ID) != index  # without the key, an index is no lookup table


def flip(sealed: Sealed, position: int) -> Sealed:
    blob = bytearray(base64.b64decode(sealed.cipher[3:]))
    blob[position] ^= 0x01
    return sealed.model_copy(update={"cipher": "v1:" + base64.b64encode(bytes(blob)).decode()})


def test_a_tampered_cipher_does_not_open(cipher: FieldCipher) -> None:
    sealed = cipher.seal("id_number", ID)
    for position in (0, 11, 12, 20, -1):  # nonce, first ciphertext byte, middle, tag
        with pytest.raises(SealError, match="does not open"):
            cipher.open("id_number", flip(sealed, position))
    broken = [
        (sealed.cipher[:-8], "does not open|too short|not base64"),
        ("v1:" + base64.b64encode(bytes(20)).decode(), "too short"),
        ("v1:%%%not base64%%%", "not base64"),
        ("v2:" + sealed.cipher[3:], "unknown format"),
    ]
    for text, reason in broken:
        with pytest.raises(SealError, match=reason):
            cipher.open("id_number", sealed.model_copy(update={"cipher": text}))


def test_an_id_cipher_is_no_phone_and_another_key_opens_nothing(cipher: FieldCipher, key_path: Path) -> None:
    sealed = cipher.seal("id_number", ID)
    passed_off = Sealed(cipher=sealed.cipher, index=cipher.index("phone", "13812345678"), tail="5678")
    with pytest.raises(SealError, match="does not open"):
        cipher.open("phone", passed_off)
    stranger = FieldCipher(FieldKey.generate(key_path.with_name("stranger.key")))
    with pytest.raises(SealError, match="does not open"):
        stranger.open("id_number", sealed)
    with pytest.raises(ValueError, match="unknown personal field kind"):
        cipher.open("email", sealed)  # type: ignore[arg-type]


def test_a_cipher_moved_onto_another_record_does_not_open(cipher: FieldCipher) -> None:
    mine, theirs = cipher.seal("phone", "13812345678"), cipher.seal("phone", "13987654321")
    with pytest.raises(SealError, match="does not match its index or tail"):
        cipher.open("phone", theirs.model_copy(update={"cipher": mine.cipher}))
    with pytest.raises(SealError, match="does not match its index or tail"):
        cipher.open("phone", mine.model_copy(update={"tail": "4321"}))


def test_invalid_values_are_refused_before_sealing(cipher: FieldCipher) -> None:
    with pytest.raises(ValueError, match="bad check digit"):
        cipher.seal("id_number", "110105194912310021")
    with pytest.raises(ValueError, match="mobile number"):
        cipher.index("phone", "1381234")
    with pytest.raises(ValueError, match="unknown personal field kind 'email'"):
        cipher.seal("email", "a@b.c")  # type: ignore[arg-type]


def test_masks_come_from_the_tail_alone(cipher: FieldCipher) -> None:
    sealed = cipher.seal("id_number", ID)
    assert mask_id(sealed.tail) == "**************002X"
    assert len(mask_id("1234")) == 18
    phone = cipher.seal("phone", "13812345678")
    assert mask_phone(phone.tail) == "*******5678"
    assert mask_phone(cipher.seal("phone", "020-87654321").tail) == "*******4321"
