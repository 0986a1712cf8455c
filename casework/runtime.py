"""The Temporal client, shared by the worker, the API and the operator commands.

In a deployment Temporal is locked down: the client presents a TLS client certificate (mTLS) and/or an API
key, and trusts the cluster's CA (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA: PEM file paths;
TEMPORAL_API_KEY). Without them it connects in plain text, as to the dev server.

Every payload is encrypted by the payload codec (`casework.codec`) under the keyring
(`casework.keys`): the worker and the API hold keys and connect with `codec=True` (the default); a tool
without keys connects with `codec=False` and can then send and read only the payloads that stay in clear.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig

from casework.codec import KeylessCodec, KeyringCodec, data_converter
from casework.keys import Keyring, load_keyring
from referral.config import Settings


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS when any certificate setting is given (a client certificate needs its key, and vice versa)."""
    if not (settings.temporal_tls_cert or settings.temporal_tls_key or settings.temporal_tls_ca):
        return bool(settings.temporal_api_key)  # an API key is only ever sent over TLS
    if bool(settings.temporal_tls_cert) != bool(settings.temporal_tls_key):
        raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS needs both)")

    def read(path: str | None) -> bytes | None:
        return Path(path).read_bytes() if path else None

    return TLSConfig(server_root_ca_cert=read(settings.temporal_tls_ca), client_cert=read(settings.temporal_tls_cert),
                     client_private_key=read(settings.temporal_tls_key))


def converter_for(settings: Settings, *, codec: bool = True, dev: bool | None = None,
                  keyring: Keyring | None = None) -> DataConverter:
    """The data converter of a process: with the keyring's codec, or (codec=False) the keyless guard.
    `dev` allows development keys; None means "while `worker.py --dev` runs here". KeyringError when the
    keys are missing or unusable: a process that should hold keys stops at start, not at its first case."""
    if not codec:
        return data_converter(KeylessCodec())
    if keyring is None:
        keyring = load_keyring(settings, dev=settings.dev_stack_running() if dev is None else dev)
    return data_converter(KeyringCodec(keyring))


async def temporal_client(settings: Settings, address: str | None = None, with_metrics: bool = False, *,
                          codec: bool = True, dev: bool | None = None, keyring: Keyring | None = None,
                          lazy: bool = False) -> Client:
    """The one place clients are made. `lazy` connects on first use (the API starts while Temporal is down)."""
    converter = converter_for(settings, codec=codec, dev=dev, keyring=keyring)
    runtime = None
    if with_metrics and settings.metrics_port:
        runtime = Runtime(telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"0.0.0.0:{settings.metrics_port}")))
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key,
        lazy=lazy,
        **({"runtime": runtime} if runtime else {}),
    )
