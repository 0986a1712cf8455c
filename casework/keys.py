"""The keyring of the payload codec: which keys encrypt and decrypt what Temporal stores.

Format (REFERRAL_KEYS_FILE, or the same lines in REFERRAL_KEYS separated by newlines or `;`):

    # key_id   base64 of >= 32 random bytes      [decrypt-only]
    2026-05    <44 base64 characters>
    2026-11    <44 base64 characters>

Blank lines and `#` comments are skipped. The newest key (the last line not marked `decrypt-only`)
encrypts; every key decrypts. `decrypt-only` is for rolling a new key out: give every process the
new key as decrypt-only first, then drop the mark everywhere, so no process ever meets a key it lacks.
A key id is 1-64 of `A-Z a-z 0-9 . _ -`; it travels in clear with each payload, so it must say nothing
about the data. A key is standard or URL-safe base64 of at least 32 random bytes
(`python -m casework.keys new 2026-11` prints a fresh line).

Development keys (ids starting `dev-`) are refused outside `worker.py --dev`, which makes its own on
first start in REFERRAL_DATA_DIR/keys (mode 0600) when no keyring is configured.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Mapping

import structlog

from referral.config import Settings

log = structlog.get_logger(__name__)

KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_KEY_BYTES = 32
# A random 32-byte key has about 30 distinct byte values; fewer than this is a pattern, not a key.
MIN_DISTINCT_BYTES = 16
DEV_PREFIX = "dev-"
DECRYPT_ONLY = "decrypt-only"
DEV_KEYS_FILE = "keys"  # under REFERRAL_DATA_DIR
KEYS_ENV = "REFERRAL_KEYS"
KEYS_FILE_ENV = "REFERRAL_KEYS_FILE"


class KeyringError(ValueError):
    """The keyring cannot be used; the message names the source, the line and the key id, never a secret."""


@dataclass(frozen=True)
class Key:
    key_id: str
    secret: bytes = field(repr=False)
    decrypt_only: bool = False

    @property
    def development(self) -> bool:
        return self.key_id.startswith(DEV_PREFIX)


@dataclass(frozen=True)
class Keyring:
    """Keys oldest first, as listed; `encrypting` is the newest key that may encrypt."""

    keys: tuple[Key, ...]
    source: str = "memory"

    def __post_init__(self) -> None:
        ids = [k.key_id for k in self.keys]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise KeyringError(f"{self.source}: key id {', '.join(map(repr, duplicates))} listed twice")
        if not any(not k.decrypt_only for k in self.keys):
            raise KeyringError(f"{self.source}: no key may encrypt (every key is missing or {DECRYPT_ONLY})")

    @property
    def encrypting(self) -> Key:
        return [k for k in self.keys if not k.decrypt_only][-1]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(k.key_id for k in self.keys)

    def get(self, key_id: str) -> Key | None:
        for key in self.keys:
            if key.key_id == key_id:
                return key
        return None

    def rotated(self, key: Key) -> Keyring:
        """This keyring with `key` added as the newest (the encrypting one unless decrypt-only)."""
        return Keyring(self.keys + (key,), self.source)


def new_key(key_id: str) -> Key:
    """A fresh random key (32 bytes from the OS's CSPRNG)."""
    problems = key_id_problems(key_id)
    if problems:
        raise KeyringError("; ".join(problems))
    return Key(key_id, secrets.token_bytes(MIN_KEY_BYTES))


def key_line(key: Key) -> str:
    mark = f" {DECRYPT_ONLY}" if key.decrypt_only else ""
    return f"{key.key_id} {base64.b64encode(key.secret).decode()}{mark}"


# ---- pure checks ----

def key_id_problems(key_id: str) -> list[str]:
    if not KEY_ID_PATTERN.fullmatch(key_id):
        return [f"key id {key_id[:70]!r}: use 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)"]
    return []


def secret_problems(secret: bytes) -> list[str]:
    if len(secret) < MIN_KEY_BYTES:
        return [f"key is {len(secret)} bytes; at least {MIN_KEY_BYTES} random bytes are required"]
    if len(set(secret)) < MIN_DISTINCT_BYTES:
        return ["key is not random (too few distinct bytes: a repeated pattern or a typed phrase?)"]
    return []


def decode_secret(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional. ValueError (without the text) when it is not."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("key is not valid base64") from None


def parse_keyring(text: str, source: str, *, allow_dev: bool) -> Keyring:
    """The keyring in `text` (file lines, or `;`-separated lines from the environment). KeyringError lists
    every problem with its line number and key id."""
    keys: list[Key] = []
    problems: list[str] = []
    for number, raw in enumerate(re.split(r"[\n;]", text), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        where = f"{source} line {number}"
        if len(fields) not in (2, 3) or (len(fields) == 3 and fields[2] != DECRYPT_ONLY):
            problems.append(f"{where}: expected `key_id base64key [{DECRYPT_ONLY}]`")
            continue
        key_id = fields[0]
        line_problems = key_id_problems(key_id)
        try:
            secret = decode_secret(fields[1])
        except ValueError as exc:
            line_problems.append(str(exc))
            secret = b""
        else:
            line_problems += secret_problems(secret)
        if key_id.startswith(DEV_PREFIX) and not allow_dev:
            line_problems.append("a development key is refused outside `worker.py --dev`")
        if line_problems:
            problems += [f"{where} (key {key_id[:70]!r}): {p}" for p in line_problems]
            continue
        keys.append(Key(key_id, secret, decrypt_only=len(fields) == 3))
    if not keys and not problems:
        problems.append(f"{source}: no keys")
    if problems:
        raise KeyringError("; ".join(problems))
    return Keyring(tuple(keys), source)


# ---- where the keyring comes from ----

def dev_keys_path(data_dir: Path) -> Path:
    return data_dir / DEV_KEYS_FILE


def ensure_dev_keys(data_dir: Path) -> Path:
    """`worker.py --dev`'s own keyring: created once with one random development key, mode 0600.
    O_EXCL makes two processes starting at once agree on one file."""
    path = dev_keys_path(data_dir)
    if path.exists():
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    key = new_key(f"{DEV_PREFIX}{date.today():%Y%m%d}")
    text = ("# Development keys of `worker.py --dev`: refused everywhere else. Never copy them to a server.\n"
            + key_line(key) + "\n")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    log.info("development payload key created", path=str(path), key_id=key.key_id)
    return path


def _read_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyringError(f"{KEYS_FILE_ENV}={path}: cannot be read ({exc.strerror})") from None
    if mode & 0o077:
        log.warning("the payload keyring file is readable by other users: chmod 600", path=str(path))
    return text


def load_keyring(settings: Settings, *, dev: bool, environ: Mapping[str, str] = os.environ) -> Keyring:
    """The keyring of this process: REFERRAL_KEYS_FILE or REFERRAL_KEYS (not both); under `--dev` with
    neither set, REFERRAL_DATA_DIR/keys (made on first start). Development keys only under `--dev`."""
    inline = (environ.get(KEYS_ENV) or "").strip()
    if settings.keys_file and inline:
        raise KeyringError(f"set {KEYS_FILE_ENV} or {KEYS_ENV}, not both")
    if settings.keys_file:
        path = Path(settings.keys_file)
        return parse_keyring(_read_file(path), f"{KEYS_FILE_ENV}={path}", allow_dev=dev)
    if inline:
        return parse_keyring(inline, KEYS_ENV, allow_dev=dev)
    if dev:
        path = ensure_dev_keys(settings.data_dir)
        return parse_keyring(_read_file(path), f"{path} (--dev)", allow_dev=True)
    raise KeyringError(
        f"no payload keys: set {KEYS_FILE_ENV} (a file of `key_id base64key` lines, mode 0600) or {KEYS_ENV};"
        " make a key with `python -m casework.keys new <key_id>`")


def main(argv: list[str]) -> int:
    """`python -m casework.keys new KEY_ID`: print one fresh keyring line for an operator to append."""
    if len(argv) != 2 or argv[0] != "new":
        print("usage: python -m casework.keys new KEY_ID   (e.g. 2026-11)", file=sys.stderr)
        return 2
    try:
        key = new_key(argv[1])
    except KeyringError as exc:
        print(f"keys: {exc}", file=sys.stderr)
        return 2
    if key.development:
        print(f"keys: ids starting {DEV_PREFIX!r} are development keys, refused outside --dev", file=sys.stderr)
        return 2
    print(key_line(key))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
