"""The Temporal client's TLS settings: mTLS needs a certificate and its key; an API key implies TLS."""

from dataclasses import replace

import pytest
from temporalio.service import TLSConfig

from casework.runtime import tls_config
from referral.config import Settings


def test_plain_without_settings():
    assert tls_config(replace(Settings(), temporal_tls_cert=None, temporal_tls_key=None, temporal_tls_ca=None,
                              temporal_api_key=None)) is False


def test_api_key_alone_uses_tls_with_system_roots():
    assert tls_config(replace(Settings(), temporal_api_key="k", temporal_tls_cert=None, temporal_tls_key=None,
                              temporal_tls_ca=None)) is True


def test_mtls_reads_the_pem_files(tmp_path):
    for name in ("cert", "key", "ca"):
        (tmp_path / f"{name}.pem").write_bytes(f"-----{name}-----".encode())
    config = tls_config(replace(Settings(), temporal_tls_cert=str(tmp_path / "cert.pem"),
                                temporal_tls_key=str(tmp_path / "key.pem"), temporal_tls_ca=str(tmp_path / "ca.pem")))
    assert isinstance(config, TLSConfig)
    assert (config.client_cert, config.client_private_key, config.server_root_ca_cert) == (
        b"-----cert-----", b"-----key-----", b"-----ca-----")


def test_a_certificate_without_its_key_is_refused(tmp_path):
    (tmp_path / "cert.pem").write_bytes(b"x")
    with pytest.raises(ValueError, match="go together"):
        tls_config(replace(Settings(), temporal_tls_cert=str(tmp_path / "cert.pem"), temporal_tls_key=None))
