"""The keyring: its file format, the refusals (short, weak, development keys), where it is loaded from."""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from casework import keys as k
from referral.config import Settings

SECRET = bytes(range(32))  # 32 distinct bytes: passes the shape checks (tests only)
B64 = base64.b64encode(SECRET).decode()
URLSAFE = base64.urlsafe_b64encode(bytes(range(200, 232))).decode().rstrip("=")


def settings(tmp_path: Path, keys_file: str | None = None) -> Settings:
    return replace(Settings(), keys_file=keys_file, data_dir=tmp_path / "var")


def test_a_file_lists_keys_oldest_first_and_the_last_encrypts():
    ring = k.parse_keyring(f"# payload keys\n2026-05 {B64}\n\n2026-11 {URLSAFE}  # newest\n", "f", allow_dev=False)
    assert ring.ids == ("2026-05", "2026-11")
    assert ring.encrypting.key_id == "2026-11"
    assert ring.get("2026-05").secret == SECRET and ring.get("nope") is None


def test_a_decrypt_only_key_is_held_but_never_encrypts():
    ring = k.parse_keyring(f"old {B64}\nnext {URLSAFE} decrypt-only", "f", allow_dev=False)
    assert ring.encrypting.key_id == "old" and ring.get("next").decrypt_only


def test_the_environment_form_separates_lines_with_semicolons():
    assert k.parse_keyring(f"a {B64}; b {URLSAFE}", "REFERRAL_KEYS", allow_dev=False).ids == ("a", "b")


@pytest.mark.parametrize("text, problem", [
    (f"k1 {base64.b64encode(bytes(range(16))).decode()}", "key is 16 bytes; at least 32 random bytes"),
    (f"k1 {base64.b64encode(b'a' * 40).decode()}", "key is not random"),
    ("k1 not*base64!", "not valid base64"),
    (f"bad/id {B64}", "key id 'bad/id'"),
    (f"k1 {B64} sometimes", "expected `key_id base64key [decrypt-only]`"),
    ("k1", "expected `key_id base64key"),
    (f"dev-20261126 {B64}", "a development key is refused outside `worker.py --dev`"),
    (f"k1 {B64}\nk1 {URLSAFE}", "key id 'k1' listed twice"),
    (f"k1 {B64} decrypt-only", "no key may encrypt"),
    ("# nothing here\n", "no keys"),
])
def test_refusals_name_the_line_and_the_key_never_the_secret(text, problem):
    with pytest.raises(k.KeyringError) as caught:
        k.parse_keyring(text, "REFERRAL_KEYS_FILE=/etc/referral/keys", allow_dev=False)
    assert problem in str(caught.value)
    assert B64 not in str(caught.value) and URLSAFE not in str(caught.value)


def test_every_problem_is_listed_at_once():
    with pytest.raises(k.KeyringError) as caught:
        k.parse_keyring("a short\nb\n", "f", allow_dev=False)
    assert "f line 1 (key 'a')" in str(caught.value) and "f line 2" in str(caught.value)


def test_development_keys_are_accepted_under_dev():
    assert k.parse_keyring(f"dev-1 {B64}", "f", allow_dev=True).encrypting.development


def test_new_keys_are_random_and_refuse_bad_ids():
    first, second = k.new_key("2026-11"), k.new_key("2026-11")
    assert len(first.secret) == 32 and first.secret != second.secret
    assert k.parse_keyring(k.key_line(first), "f", allow_dev=False).get("2026-11").secret == first.secret
    with pytest.raises(k.KeyringError):
        k.new_key("has space")


def test_load_from_a_file(tmp_path: Path):
    path = tmp_path / "keys"
    path.write_text(f"2026-11 {B64}\n")
    ring = k.load_keyring(settings(tmp_path, str(path)), dev=False, environ={})
    assert ring.ids == ("2026-11",) and str(path) in ring.source


def test_load_from_the_environment(tmp_path: Path):
    assert k.load_keyring(settings(tmp_path), dev=False, environ={"REFERRAL_KEYS": f"e1 {B64}"}).ids == ("e1",)


def test_a_file_and_the_environment_together_are_ambiguous(tmp_path: Path):
    path = tmp_path / "keys"
    path.write_text(f"f1 {B64}\n")
    with pytest.raises(k.KeyringError, match="not both"):
        k.load_keyring(settings(tmp_path, str(path)), dev=False, environ={"REFERRAL_KEYS": f"e1 {B64}"})


def test_no_keys_outside_dev_is_a_clear_error(tmp_path: Path):
    with pytest.raises(k.KeyringError, match="no payload keys: set REFERRAL_KEYS_FILE"):
        k.load_keyring(settings(tmp_path), dev=False, environ={})
    assert not (tmp_path / "var" / "keys").exists()  # nothing is made outside --dev


def test_an_unreadable_file_names_the_setting(tmp_path: Path):
    with pytest.raises(k.KeyringError, match="REFERRAL_KEYS_FILE=.*cannot be read"):
        k.load_keyring(settings(tmp_path, str(tmp_path / "missing")), dev=False, environ={})


def test_dev_makes_its_own_key_once_with_mode_0600(tmp_path: Path):
    first = k.load_keyring(settings(tmp_path), dev=True, environ={})
    path = tmp_path / "var" / "keys"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert first.encrypting.development and len(first.keys) == 1
    again = k.load_keyring(settings(tmp_path), dev=True, environ={})
    assert again.encrypting.secret == first.encrypting.secret  # made once, kept across restarts
    with pytest.raises(k.KeyringError, match="development key is refused"):  # the dev file is useless elsewhere
        k.load_keyring(settings(tmp_path, str(path)), dev=False, environ={})


def test_the_command_prints_one_usable_line(capsys):
    assert k.main(["new", "2026-11"]) == 0
    line = capsys.readouterr().out.strip()
    assert k.parse_keyring(line, "stdout", allow_dev=False).ids == ("2026-11",)
    assert k.main(["new", "dev-x"]) == 2
    assert k.main(["new", "bad id"]) == 2
    assert k.main([]) == 2
