"""The payload codec: round trip, rotation, missing keys, tampering, what stays clear, the keyless guard."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.exceptions import ApplicationError

from casework import codec as c
from casework.keys import Key, Keyring, new_key

NIK = "5108081507800001"


class Person(BaseModel):
    name: str
    nik: str
    at: datetime


PERSON = Person(name="Ni Luh Zzyzx", nik=NIK, at=datetime(2026, 11, 26, 9, tzinfo=timezone.utc))


def keyring(*keys: Key) -> Keyring:
    return Keyring(keys or (new_key("k1"),), "test")


def payload_of(value) -> Payload:
    return c.data_converter(c.KeylessCodec()).payload_converter.to_payloads([value])[0]


async def test_a_model_round_trips_and_no_personal_data_is_left_in_the_bytes():
    converter = c.data_converter(c.KeyringCodec(keyring()))
    [encoded] = await converter.encode([PERSON])
    assert encoded.metadata["encoding"] == b"binary/encrypted"
    assert encoded.metadata["encryption-key-id"] == b"k1"
    assert encoded.metadata["encryption-format"] == b"referral/aes-256-gcm/v1"
    assert NIK.encode() not in encoded.SerializeToString() and b"Zzyzx" not in encoded.SerializeToString()
    assert await converter.decode([encoded], [Person]) == [PERSON]


async def test_two_encryptions_of_the_same_payload_differ():
    codec = c.KeyringCodec(keyring())
    first, second = await codec.encode([payload_of(PERSON), payload_of(PERSON)])
    assert first.data != second.data  # a fresh nonce each time


async def test_rotation_old_payloads_still_decrypt_and_new_ones_use_the_newest_key():
    k1, k2 = new_key("k1"), new_key("k2")
    old = c.KeyringCodec(keyring(k1))
    [under_k1] = await old.encode([payload_of(PERSON)])
    rotated = c.KeyringCodec(keyring(k1).rotated(k2))
    [under_k2] = await rotated.encode([payload_of(PERSON)])
    assert c.key_id_of(under_k1) == "k1" and c.key_id_of(under_k2) == "k2"
    assert await rotated.decode([under_k1, under_k2]) == [payload_of(PERSON)] * 2


async def test_a_decrypt_only_key_decrypts_but_does_not_encrypt():
    k1, k2 = new_key("k1"), Key("k2", new_key("k2").secret, decrypt_only=True)
    ring = keyring(k1, k2)
    assert ring.encrypting.key_id == "k1"
    [under_k2] = await c.KeyringCodec(keyring(new_key("k0"), Key("k2", k2.secret))).encode([payload_of(PERSON)])
    assert await c.KeyringCodec(ring).decode([under_k2]) == [payload_of(PERSON)]


async def test_a_missing_key_is_an_error_naming_the_key_id_and_the_keys_held():
    [under_k1] = await c.KeyringCodec(keyring(new_key("k1"))).encode([payload_of(PERSON)])
    codec = c.KeyringCodec(keyring(new_key("k2"), new_key("k3")))
    with pytest.raises(c.MissingKeyError) as caught:
        await codec.decode([under_k1])
    assert caught.value.key_id == "k1"
    assert "'k1'" in str(caught.value) and "k2, k3" in str(caught.value)
    assert NIK not in str(caught.value)


def _tampered(payload: Payload, **metadata: bytes) -> Payload:
    copy = Payload()
    copy.CopyFrom(payload)
    for name, value in metadata.items():
        copy.metadata[name.replace("_", "-")] = value
    return copy


async def test_tampered_ciphertext_is_refused():
    codec = c.KeyringCodec(keyring())
    [encoded] = await codec.encode([payload_of(PERSON)])
    flipped = _tampered(encoded)
    flipped.data = encoded.data[:20] + bytes([encoded.data[20] ^ 1]) + encoded.data[21:]
    with pytest.raises(c.TamperedPayloadError, match="'k1'"):
        await codec.decode([flipped])
    truncated = _tampered(encoded)
    truncated.data = encoded.data[:20]
    with pytest.raises(c.TamperedPayloadError):
        await codec.decode([truncated])


async def test_a_swapped_key_id_fails_authentication_even_when_both_keys_share_a_secret():
    """The key id is bound into each ciphertext (associated data and key derivation)."""
    secret = new_key("x").secret
    ring = keyring(Key("k1", secret), Key("k2", secret))
    codec = c.KeyringCodec(ring)
    [under_k2] = await codec.encode([payload_of(PERSON)])
    with pytest.raises(c.TamperedPayloadError, match="'k1'"):
        await codec.decode([_tampered(under_k2, encryption_key_id=b"k1")])


async def test_an_unknown_format_or_missing_key_id_is_refused():
    codec = c.KeyringCodec(keyring())
    [encoded] = await codec.encode([payload_of(PERSON)])
    with pytest.raises(c.CodecError, match="unknown encryption-format"):
        await codec.decode([_tampered(encoded, encryption_format=b"other/v9")])
    no_id = _tampered(encoded)
    del no_id.metadata["encryption-key-id"]
    with pytest.raises(c.CodecError, match="without an encryption-key-id"):
        await codec.decode([no_id])


@pytest.mark.parametrize("value, clear", [
    ("Penyandang Disabilitas · Desa Bengkala", True),  # a summary or a detail
    (WorkflowMetadata(current_details="Status: assigned"), True),  # the Current Details query
    ({"complaint_id": "ADU-1"}, False),
    (PERSON, False),
    ([NIK], False),
    (16, False),
    (None, False),
    (b"raw", False),
])
def test_stays_clear(value, clear):
    assert c.stays_clear(payload_of(value)) is clear


def test_stays_clear_looks_at_the_encoding_not_only_the_first_byte():
    assert not c.stays_clear(Payload(metadata={"encoding": b"binary/plain"}, data=b'"looks like a string"'))
    assert not c.stays_clear(Payload(metadata={"encoding": b"json/protobuf", "messageType": b"other.Message"},
                                     data=b"{}"))


async def test_bare_strings_and_workflow_metadata_pass_in_clear_and_decode_as_themselves():
    codec = c.KeyringCodec(keyring())
    summary, metadata = payload_of("Record intake and assign"), payload_of(WorkflowMetadata(current_details="x"))
    assert await codec.encode([summary, metadata]) == [summary, metadata]
    assert await codec.decode([summary, metadata]) == [summary, metadata]


async def test_payloads_written_before_the_codec_still_decode():
    """Histories from before the codec hold plain JSON objects: they must replay."""
    legacy = payload_of({"complaint_id": "ADU-1", "sealed_personal": "sealed:v1:abc"})
    assert await c.KeyringCodec(keyring()).decode([legacy]) == [legacy]


async def test_failure_messages_and_stack_traces_are_encrypted():
    converter = c.data_converter(c.KeyringCodec(keyring()))
    failure = Failure()
    await converter.encode_failure(ApplicationError(f"NIK {NIK} sudah terdaftar", type="Dup"), failure)
    assert failure.message == "Encoded failure"
    assert NIK.encode() not in failure.SerializeToString()
    assert c.is_encrypted(failure.encoded_attributes)
    error = await converter.decode_failure(failure)
    assert isinstance(error, ApplicationError) and error.message == f"NIK {NIK} sudah terdaftar"


async def test_the_keyless_codec_passes_clear_payloads_and_refuses_the_rest():
    keyless = c.KeylessCodec()
    summary = payload_of("Penyandang Disabilitas")
    assert await keyless.encode([summary]) == [summary]
    with pytest.raises(c.KeylessError, match="holds no payload keys.*json/plain"):
        await keyless.encode([payload_of(PERSON)])
    [encrypted] = await c.KeyringCodec(keyring()).encode([payload_of(PERSON)])
    with pytest.raises(c.KeylessError, match="'k1'.*through the API"):
        await keyless.decode([encrypted])
    assert await keyless.decode([summary]) == [summary]


async def test_the_benchmark_hook_measures_a_round_trip():
    report = await c.measure([PERSON, "a summary", {"complaint_id": "ADU-1"}], rounds=5)
    assert report["payloads"] == 3 and report["encrypted"] == 2 and report["rounds"] == 5
    assert report["encode_us_per_payload"] > 0 and report["decode_us_per_payload"] > 0
    assert report["encoded_bytes"] > report["plain_bytes"]
    json.dumps(report)  # plain data for the bench's JSON report
    with pytest.raises(ValueError):
        await c.measure([], rounds=1)


def test_the_throwaway_converter_encrypts_with_its_newest_key():
    codec = c.throwaway_converter().payload_codec
    assert isinstance(codec, c.KeyringCodec)
    assert codec.keyring.encrypting.key_id == "bench-new" and codec.keyring.ids == ("bench-old", "bench-new")


def test_readable_json_reads_only_clear_json():
    assert c.readable_json(payload_of({"complaint_id": "ADU-1"})) == {"complaint_id": "ADU-1"}
    assert c.readable_json(Payload(metadata={"encoding": b"binary/encrypted"}, data=b"xx")) is None
    assert c.readable_json(Payload(metadata={"encoding": b"json/plain"}, data=b"{broken")) is None
