"""Sealing personal data before it enters Temporal.

Temporal keeps every workflow input in its history, and the Web UI shows it to anyone who can open
the case. So the starter seals the reporter, the subject and the free-text description (names, NIK,
phone numbers, diagnoses: UU PDP 27/2022) with AES-GCM under REFERRAL_PII_KEY; only the intake
activity unseals them, to store them in Postgres. History and UI see an opaque token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "sealed:v1:"


def _key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def seal(data: dict[str, Any], secret: str) -> str:
    nonce = os.urandom(12)
    ciphertext = AESGCM(_key(secret)).encrypt(nonce, json.dumps(data, default=str).encode(), _PREFIX.encode())
    return _PREFIX + base64.urlsafe_b64encode(nonce + ciphertext).decode()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(_PREFIX)


def seal_text(text: str, secret: str) -> str:
    """An officer's free text (a note, a plan, a reason) may describe the person: seal it too."""
    return seal({"text": text}, secret)


def unseal_values(detail: dict[str, Any], secret: str) -> dict[str, Any]:
    """The same mapping with sealed texts opened, for Postgres and for the CLI."""
    return {k: unseal(v, secret)["text"] if is_sealed(v) else v for k, v in detail.items()}


# The keys this worker holds, registered once at start-up (`use_keys`); validators check against them.
_held_keys: list[str] = []


def use_keys(*secrets: str) -> None:
    _held_keys[:] = [s for s in secrets if s]


def opens(token: str) -> bool:
    for secret in _held_keys:
        try:
            unseal(token, secret)
        except Exception:  # malformed, or sealed under another key
            continue
        return True
    return False


def refusal(request: Any) -> str | None:
    """Why an action's sealed free text cannot be recorded: it does not open under the keys held here."""
    for name in getattr(request, "FREE_TEXT", ()):
        value = getattr(request, name, None)
        if is_sealed(value) and _held_keys and not opens(value):
            return f"{name}: sealed under a key this office does not hold (or damaged); send it again"
        if isinstance(value, str) and value.startswith("sealed:") and not is_sealed(value):
            return f"{name}: not a sealed text this office can read (unknown format)"
    return None


def unseal(token: str, secret: str) -> dict[str, Any]:
    if not token.startswith(_PREFIX):
        raise ValueError("not a sealed token")
    raw = base64.urlsafe_b64decode(token[len(_PREFIX):])
    return json.loads(AESGCM(_key(secret)).decrypt(raw[:12], raw[12:], _PREFIX.encode()))
