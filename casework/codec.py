"""The payload codec: AES-256-GCM on every payload the client and the worker exchange with Temporal.

Workflow inputs and results, activity arguments and results, updates, queries, and failures (their
message and stack trace move into an encoded attribute, `DefaultFailureConverterWithEncodedAttributes`)
reach Temporal's history encrypted, so the server, its database and the Web UI without the codec server
hold ciphertext only.

An encrypted payload: metadata `encoding: binary/encrypted`, `encryption-key-id: <id>`,
`encryption-format: referral/aes-256-gcm/v1`; data = 12-byte random nonce || AES-256-GCM(serialized
original Payload). The AES key is HKDF-SHA256 of the keyring's secret with the key id in its info, and
the associated data is the format and the key id: a ciphertext whose key id is swapped, or whose bytes
are changed, fails authentication instead of decrypting.

What stays in clear, deliberately (one rule, `stays_clear`):
  * a bare JSON string (`json/plain` whose data starts with `"`): the summaries and details the Web UI
    shows (static summary/details, timer and activity summaries) are bare strings, written by the project
    without personal data, and must stay readable without the codec. Every other payload of the project
    is a JSON object: `tests/unit/test_codec_signatures.py` fails if a workflow, update, query or activity
    takes or returns anything whose JSON can be a bare string;
  * the `__temporal_workflow_metadata` query result (json/protobuf `temporal.api.sdk.v1.WorkflowMetadata`),
    which carries the case's "Current Details" (status, clocks: no personal data).
Search attributes never pass through a codec (and hold no personal data either); nor does the SDK core's own
local-activity marker bookkeeping (seq, attempt, activity type), which holds none.

A payload that is not encrypted decodes as itself: histories written before the codec still replay.

A key this process lacks is a `MissingKeyError` naming the key id and the keys held. A client (the API)
gets it at once. In the worker the workflow task fails with it (logged, once per key id by this module and
by the SDK per attempt); Temporal retries that task with a growing backoff (seconds, then up to ten
minutes), so the case waits, unchanged, until the key is restored, and then goes on. Failing the case
terminally instead was rejected: a deploy that forgot a key would close every open case it touched.

Tools without keys connect with `KeylessCodec` (`casework.runtime.temporal_client(codec=False)`): it lets
the clear payloads through and refuses, with a clear error, to send or read anything else.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Sequence

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from casework.converter import CasePayloadConverter
from casework.keys import Key, Keyring, new_key

log = structlog.get_logger(__name__)

ENCODING = "encoding"
ENCRYPTED = b"binary/encrypted"
KEY_ID = "encryption-key-id"
FORMAT = "encryption-format"
FORMAT_V1 = b"referral/aes-256-gcm/v1"
JSON_PLAIN = b"json/plain"
JSON_PROTOBUF = b"json/protobuf"
WORKFLOW_METADATA = b"temporal.api.sdk.v1.WorkflowMetadata"
NONCE_BYTES = 12
TAG_BYTES = 16
_HKDF_INFO = b"buleleng-referral payload codec v1|"


class CodecError(ValueError):
    """A payload that cannot be encoded or decoded. Messages name key ids, never data."""


class MissingKeyError(CodecError):
    def __init__(self, key_id: str, held: Sequence[str]) -> None:
        self.key_id = key_id
        super().__init__(f"payload encrypted under key {key_id!r}, which this keyring does not hold "
                         f"(it holds {', '.join(held) or 'none'}): add that key to REFERRAL_KEYS_FILE / REFERRAL_KEYS")


class TamperedPayloadError(CodecError):
    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(f"payload under key {key_id!r} fails authentication: its bytes or its key id were changed")


class KeylessError(CodecError):
    """A tool connected without keys met a payload that needs them."""


# ---- the pure rules ----

def stays_clear(payload: Payload) -> bool:
    """Left unencrypted by design: a bare JSON string (summaries and details) or WorkflowMetadata."""
    encoding = payload.metadata.get(ENCODING)
    if encoding == JSON_PLAIN:
        return payload.data[:1] == b'"'
    return encoding == JSON_PROTOBUF and payload.metadata.get("messageType") == WORKFLOW_METADATA


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get(ENCODING) == ENCRYPTED


def key_id_of(payload: Payload) -> str | None:
    raw = payload.metadata.get(KEY_ID)
    return raw.decode("utf-8", "replace") if raw is not None and is_encrypted(payload) else None


def readable_json(payload: Payload) -> Any:
    """The JSON value of a clear json/plain payload, else None (used to find case ids for the audit)."""
    if payload.metadata.get(ENCODING) != JSON_PLAIN:
        return None
    try:
        return json.loads(payload.data)
    except ValueError:
        return None


def associated_data(key_id: str) -> bytes:
    """What each ciphertext is bound to besides its key: the format and the key id."""
    return FORMAT_V1 + b"|" + key_id.encode()


def aes_key(key: Key) -> bytes:
    """AES-256 key for a keyring entry: HKDF-SHA256 over its secret, separated per key id."""
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO + key.key_id.encode())
    return kdf.derive(key.secret)


# ---- the codecs ----

class KeyringCodec(PayloadCodec):
    """Encrypts with the keyring's newest key; decrypts with whichever key a payload names."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._ciphers = {k.key_id: AESGCM(aes_key(k)) for k in keyring.keys}
        self._reported_missing: set[str] = set()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [p if stays_clear(p) else self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) if is_encrypted(p) else p for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.keyring.encrypting.key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), associated_data(key_id))
        return Payload(metadata={ENCODING: ENCRYPTED, KEY_ID: key_id.encode(), FORMAT: FORMAT_V1}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        key_id = key_id_of(payload)
        if not key_id:
            raise CodecError("encrypted payload without an encryption-key-id")
        if payload.metadata.get(FORMAT) != FORMAT_V1:
            raise CodecError(f"payload under key {key_id!r} has an unknown encryption-format")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            if key_id not in self._reported_missing:  # once per key id, not once per payload
                self._reported_missing.add(key_id)
                log.error("payload key missing", key_id=key_id, held=list(self.keyring.ids))
            raise MissingKeyError(key_id, self.keyring.ids)
        if len(payload.data) < NONCE_BYTES + TAG_BYTES:
            raise TamperedPayloadError(key_id)
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], associated_data(key_id))
            return Payload.FromString(plain)
        except (InvalidTag, DecodeError):
            raise TamperedPayloadError(key_id) from None


class KeylessCodec(PayloadCodec):
    """For tools that hold no keys: clear payloads pass, anything that would need a key is refused."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        for payload in payloads:
            if not stays_clear(payload):
                encoding = payload.metadata.get(ENCODING, b"?").decode("utf-8", "replace")
                raise KeylessError(f"this tool holds no payload keys: it will not send a {encoding} payload, which "
                                   "would enter Temporal's history unencrypted; use the API (or a process with keys)")
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        for payload in payloads:
            if is_encrypted(payload):
                raise KeylessError(f"payload encrypted under key {key_id_of(payload)!r}, and this tool holds no "
                                   "payload keys: read the case through the API")
        return list(payloads)


def data_converter(codec: PayloadCodec) -> DataConverter:
    """The project's converter (pydantic) with `codec` on payloads and failures."""
    return DataConverter(payload_converter_class=CasePayloadConverter, payload_codec=codec,
                         failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


# ---- the benchmark hook ----

def throwaway_converter() -> DataConverter:
    """A converter under a random in-memory keyring of two keys (an old one and the newest), for benchmarks
    and tests: nothing touches a file or the environment."""
    old, new = new_key("bench-old"), new_key("bench-new")
    return data_converter(KeyringCodec(Keyring((old, new), "benchmark")))


async def measure(values: Sequence[Any], rounds: int = 200, converter: DataConverter | None = None) -> dict[str, Any]:
    """Encode/decode cost of `values` (e.g. a typical case's input, actions and view): microseconds per
    payload each way, and the size before and after. `bench/` passes `bench.project.sample_payloads()`."""
    converter = converter or throwaway_converter()
    codec = converter.payload_codec
    if codec is None or not values or rounds < 1:
        raise ValueError("measure needs a converter with a codec, at least one value and one round")
    plain = converter.payload_converter.to_payloads(list(values))
    began = time.perf_counter()
    for _ in range(rounds):
        encoded = await codec.encode(plain)
    encode_s = time.perf_counter() - began
    began = time.perf_counter()
    for _ in range(rounds):
        decoded = await codec.decode(encoded)
    decode_s = time.perf_counter() - began
    if decoded != plain:
        raise AssertionError("the codec did not round-trip the sample payloads")
    plain_bytes, encoded_bytes = sum(p.ByteSize() for p in plain), sum(p.ByteSize() for p in encoded)
    per = rounds * len(plain)
    return {"payloads": len(plain), "encrypted": sum(is_encrypted(p) for p in encoded), "rounds": rounds,
            "encode_us_per_payload": round(encode_s / per * 1e6, 2),
            "decode_us_per_payload": round(decode_s / per * 1e6, 2),
            "plain_bytes": plain_bytes, "encoded_bytes": encoded_bytes,
            "size_ratio": round(encoded_bytes / plain_bytes, 3) if plain_bytes else None}
