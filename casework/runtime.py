"""The Temporal client, shared by the worker, the API and the operator commands."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from referral.config import Settings


async def temporal_client(settings: Settings, address: str | None = None, with_metrics: bool = False) -> Client:
    runtime = None
    if with_metrics and settings.metrics_port:
        runtime = Runtime(telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"0.0.0.0:{settings.metrics_port}")))
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        **({"runtime": runtime} if runtime else {}),
    )
