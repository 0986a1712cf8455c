"""Envelope encryption of a case's personal data: one random data key per case, wrapped by the keyring.

Every personal value of a case (its subject, reporter and description, a further report's reporter and
description, the referral texts, and the free text of its events) is encrypted with AES-256-GCM under that
case's own 32-byte data key. The data key is stored only wrapped (`case_keys`): AES-256-GCM under a key
derived with HKDF-SHA256 from one keyring key (`casework.keys`), the newest that may encrypt. Erasing a
person is deleting one wrapped key: every ciphertext of the case, the append-only audit trail's included,
can then never be read again.

Formats (each ciphertext is bound, as associated data, to what it is and where it belongs):

  * a value:       "pii:v1:" + urlsafe-base64(12-byte nonce || AES-GCM(JSON of the value)),
                   AAD "pii:v1|<complaint id>|<location>", e.g. location "complaints.subject" or
                   "complaint_events.detail.note|0004:assessed": a value copied to another case, column,
                   field or event fails authentication instead of decrypting;
  * a wrapped key: 12-byte nonce || AES-GCM(data key), AAD "referral/case-key/v1|<key id>|<complaint id>",
                   under HKDF(keyring secret, info "buleleng-referral case key wrap v1|<key id>").

Rotation: adding a key to the keyring changes nothing that exists. New data keys are wrapped under the
newest key; older ones still unwrap under the key they name, as long as it stays in the keyring (listed,
`decrypt-only` or not). `rewrap` moves a data key under the newest key, so an old key can be retired.

The duplicate-detection hash is keyed from the keyring too (`subject_hash_key`): HKDF of the *oldest*
(first listed) key, so adding keys never changes it. The oldest key is kept anyway while any data key is
wrapped under it; replacing it changes every hash (cases opened before are no longer found as duplicates).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from casework.keys import Key, Keyring

VALUE_PREFIX = "pii:v1:"
_VALUE_AAD = b"pii:v1|"
_WRAP_FORMAT = b"referral/case-key/v1"
_WRAP_INFO = b"buleleng-referral case key wrap v1|"
_HASH_INFO = b"buleleng-referral subject hash v1|"
DATA_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


class EnvelopeError(ValueError):
    """A value or a wrapped key that cannot be used. Messages name cases, columns and key ids, never data."""


class PersonalDataErased(LookupError):
    """The case's data key was erased: its personal data is gone for good (not an error to retry)."""

    def __init__(self, complaint_id: str, erased_at: datetime | None) -> None:
        self.complaint_id, self.erased_at = complaint_id, erased_at
        when = f" on {erased_at:%Y-%m-%d}" if erased_at else ""
        super().__init__(f"the personal data of case {complaint_id} was erased{when} (its data key is deleted)")


class WrappingKeyMissing(RuntimeError):
    """The keyring lacks the key a data key is wrapped under. A RuntimeError, not a ValueError: activities
    retry it (like the payload codec's missing key) until the key is restored, instead of failing the case."""

    def __init__(self, complaint_id: str, key_id: str, held: tuple[str, ...]) -> None:
        self.key_id = key_id
        super().__init__(f"the data key of case {complaint_id} is wrapped under keyring key {key_id!r}, which this"
                         f" keyring does not hold (it holds {', '.join(held) or 'none'}): add that key to"
                         " REFERRAL_KEYS_FILE / REFERRAL_KEYS")


class UnstorableValue(EnvelopeError):
    """A value PostgreSQL would refuse in clear (a NUL character) is refused encrypted too: encryption must not
    widen what the database accepts."""

    def __init__(self, complaint_id: str, location: str) -> None:
        super().__init__(f"case {complaint_id}, {location}: contains a NUL character, which PostgreSQL refuses"
                         " (in clear or encrypted)")


class TamperedValue(EnvelopeError):
    def __init__(self, complaint_id: str, location: str) -> None:
        super().__init__(f"case {complaint_id}, {location}: the encrypted value fails authentication (changed, or"
                         " copied from another case, column or event)")


@dataclass(frozen=True)
class WrappedKey:
    """A `case_keys` row: the data key wrapped under one keyring key, or erased (both None)."""

    complaint_id: str
    wrapping_key_id: str | None
    wrapped: bytes | None
    erased_at: datetime | None = None

    @property
    def erased(self) -> bool:
        return self.erased_at is not None or self.wrapped is None


def _derive(key: Key, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info + key.key_id.encode()).derive(key.secret)


def _wrap_aad(key_id: str, complaint_id: str) -> bytes:
    return b"|".join((_WRAP_FORMAT, key_id.encode(), complaint_id.encode()))


def new_data_key() -> bytes:
    return secrets.token_bytes(DATA_KEY_BYTES)


def wrap(keyring: Keyring, complaint_id: str, data_key: bytes) -> WrappedKey:
    """The data key wrapped under the keyring's newest encrypting key."""
    key = keyring.encrypting
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_derive(key, _WRAP_INFO)).encrypt(nonce, data_key, _wrap_aad(key.key_id, complaint_id))
    return WrappedKey(complaint_id, key.key_id, nonce + sealed)


def unwrap(keyring: Keyring, wrapped: WrappedKey) -> bytes:
    """The data key. PersonalDataErased when it was erased, WrappingKeyMissing when the keyring lacks its key."""
    if wrapped.erased or wrapped.wrapping_key_id is None or wrapped.wrapped is None:
        raise PersonalDataErased(wrapped.complaint_id, wrapped.erased_at)
    key = keyring.get(wrapped.wrapping_key_id)
    if key is None:
        raise WrappingKeyMissing(wrapped.complaint_id, wrapped.wrapping_key_id, keyring.ids)
    data = wrapped.wrapped
    try:
        plain = AESGCM(_derive(key, _WRAP_INFO)).decrypt(
            data[:NONCE_BYTES], data[NONCE_BYTES:], _wrap_aad(key.key_id, wrapped.complaint_id))
    except InvalidTag:
        raise EnvelopeError(f"case {wrapped.complaint_id}: the wrapped data key fails authentication under keyring"
                            f" key {key.key_id!r} (changed, or copied from another case)") from None
    if len(plain) != DATA_KEY_BYTES:
        raise EnvelopeError(f"case {wrapped.complaint_id}: the wrapped data key has the wrong length")
    return plain


def rewrap(keyring: Keyring, wrapped: WrappedKey) -> WrappedKey:
    """The same data key wrapped under the newest key (to retire an older keyring key)."""
    return wrap(keyring, wrapped.complaint_id, unwrap(keyring, wrapped))


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(VALUE_PREFIX)


class CaseCipher:
    """Encrypts and decrypts one case's values under its data key."""

    def __init__(self, complaint_id: str, data_key: bytes) -> None:
        self.complaint_id = complaint_id
        self._aead = AESGCM(data_key)

    def _aad(self, location: str) -> bytes:
        return _VALUE_AAD + self.complaint_id.encode() + b"|" + location.encode()

    def encrypt(self, value: Any, location: str) -> str:
        """Any JSON value (a dict for subject and reporter, text otherwise) as an encrypted string."""
        if _has_nul(value):
            raise UnstorableValue(self.complaint_id, location)
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()
        sealed = self._aead.encrypt(nonce, plain, self._aad(location))
        return VALUE_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, location: str) -> Any:
        if not is_encrypted(token):
            raise EnvelopeError(f"case {self.complaint_id}, {location}: not an encrypted value")
        try:
            raw = base64.urlsafe_b64decode(token[len(VALUE_PREFIX):])
        except (binascii.Error, ValueError):
            raise TamperedValue(self.complaint_id, location) from None
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise TamperedValue(self.complaint_id, location)
        try:
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._aad(location))
        except InvalidTag:
            raise TamperedValue(self.complaint_id, location) from None
        return json.loads(plain)

    def opened(self, value: Any, location: str) -> Any:
        """An encrypted value decrypted; anything else (None, a row written in clear before) as it is."""
        return self.decrypt(value, location) if is_encrypted(value) else value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def subject_hash_key(keyring: Keyring) -> bytes:
    """The secret of the duplicate-detection HMAC: HKDF of the oldest keyring key (stable under rotation)."""
    return _derive(keyring.keys[0], _HASH_INFO)
