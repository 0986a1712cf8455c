"""The Temporal client, shared by the worker, the API and the operator commands.

In a deployment Temporal is locked down: the client presents a TLS client certificate (mTLS) and/or an API
key, and trusts the cluster's CA (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA: PEM file paths;
TEMPORAL_API_KEY). Without them it connects in plain text, as to the dev server.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig

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


async def temporal_client(settings: Settings, address: str | None = None, with_metrics: bool = False) -> Client:
    runtime = None
    if with_metrics and settings.metrics_port:
        runtime = Runtime(telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"0.0.0.0:{settings.metrics_port}")))
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key,
        **({"runtime": runtime} if runtime else {}),
    )
