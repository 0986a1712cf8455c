"""Settings from environment variables, with defaults that run on a fresh machine.

Every setting is listed in README.md ("Settings").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from referral.calendar import PERBUP_BULELENG_56_2025, WeeklyHours, flat_hours, parse_office_hours
from referral.i18n import language_from_env

DEV_PII_KEY = "dev-only-pii-key: set REFERRAL_PII_KEY in production"
DEV_HASH_SALT = "buleleng-dev-salt"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _dev_database_url() -> str | None:
    """The embedded Postgres of a running `worker.py --dev`, so the CLI's report and roster commands find it."""
    path = Path(_env("REFERRAL_DATA_DIR", "var")) / "database_url"
    return path.read_text().strip() if path.exists() else None


def _office_hours() -> WeeklyHours:
    """REFERRAL_OFFICE_HOURS (e.g. "mon-thu 07:30-12:00,12:45-16:00; fri 07:00-11:00,11:30-14:00"); default
    Perbup Buleleng 56/2025. The older REFERRAL_OFFICE_OPEN/CLOSE pair still gives a flat Monday-Friday day."""
    raw = _env("REFERRAL_OFFICE_HOURS", "")
    if raw:
        try:
            return parse_office_hours(raw)
        except ValueError as exc:
            raise ValueError(f"REFERRAL_OFFICE_HOURS: {exc}") from None
    opens, closes = _env("REFERRAL_OFFICE_OPEN", ""), _env("REFERRAL_OFFICE_CLOSE", "")
    if opens or closes:
        try:
            return flat_hours(time.fromisoformat(opens or "08:00"), time.fromisoformat(closes or "16:00"))
        except ValueError as exc:
            raise ValueError(f"REFERRAL_OFFICE_OPEN/CLOSE must be HH:MM ({exc})") from None
    return PERBUP_BULELENG_56_2025


def _language() -> str:
    """id (Bahasa Indonesia, the default) or en, from REFERRAL_LANGUAGE (REFERRAL_CLI_LANG is an older alias)."""
    return language_from_env({"REFERRAL_LANGUAGE": os.environ.get("REFERRAL_LANGUAGE", ""),
                              "REFERRAL_CLI_LANG": os.environ.get("REFERRAL_CLI_LANG", "")})


@dataclass(frozen=True)
class Settings:
    temporal_address: str = field(default_factory=lambda: _env("TEMPORAL_ADDRESS", "localhost:7233"))
    temporal_namespace: str = field(default_factory=lambda: _env("TEMPORAL_NAMESPACE", "default"))
    task_queue: str = field(default_factory=lambda: _env("REFERRAL_TASK_QUEUE", "referral"))
    # A deployment locks Temporal down: only the worker, the API and operators with these may reach it.
    temporal_tls_cert: str | None = field(default_factory=lambda: os.environ.get("TEMPORAL_TLS_CERT") or None)
    temporal_tls_key: str | None = field(default_factory=lambda: os.environ.get("TEMPORAL_TLS_KEY") or None)
    temporal_tls_ca: str | None = field(default_factory=lambda: os.environ.get("TEMPORAL_TLS_CA") or None)
    temporal_api_key: str | None = field(default_factory=lambda: os.environ.get("TEMPORAL_API_KEY") or None)
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or _dev_database_url())
    data_dir: Path = field(default_factory=lambda: Path(_env("REFERRAL_DATA_DIR", "var")))
    sla_policy_file: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_SLA_POLICY") or None)
    closures_file: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_CLOSURES_FILE") or None)
    roster_file: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_ROSTER_FILE") or None)
    piket_file: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_PIKET_FILE") or None)
    office_hours: WeeklyHours = field(default_factory=_office_hours)
    utc_offset_minutes: int = field(default_factory=lambda: int(_env("REFERRAL_UTC_OFFSET_MINUTES", "480")))
    pii_key: str = field(default_factory=lambda: _env("REFERRAL_PII_KEY", DEV_PII_KEY))
    hash_salt: str = field(default_factory=lambda: _env("REFERRAL_HASH_SALT", DEV_HASH_SALT))
    ui_url: str = field(default_factory=lambda: _env("REFERRAL_UI_URL", "http://localhost:8233"))
    public_url: str = field(default_factory=lambda: _env("REFERRAL_PUBLIC_URL", "http://localhost:8000"))
    history_limit: int = field(default_factory=lambda: int(_env("REFERRAL_HISTORY_LIMIT", "10000")))
    # The worker: cases kept in memory (a miss replays the case's history) and workflow tasks at once (0: SDK's).
    # Eight task slots keep a saturated worker's tasks short (bench/RESULTS.md): a storm's tasks wait on the
    # server instead of timing out in the worker.
    max_cached_workflows: int = field(default_factory=lambda: int(_env("REFERRAL_MAX_CACHED_WORKFLOWS", "1000")))
    max_concurrent_workflow_tasks: int = field(
        default_factory=lambda: int(_env("REFERRAL_MAX_CONCURRENT_WORKFLOW_TASKS", "8")))
    # Worker deployment versioning: each run pinned to the build (the package version) that started it.
    worker_versioning: bool = field(default_factory=lambda: _env("REFERRAL_WORKER_VERSIONING", "false") == "true")
    smtp_host: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_SMTP_HOST") or None)
    smtp_port: int = field(default_factory=lambda: int(_env("REFERRAL_SMTP_PORT", "25")))
    smtp_sender: str = field(default_factory=lambda: _env("REFERRAL_SMTP_SENDER", "rujukan@dinsos.example"))
    webhook_url: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_WEBHOOK_URL") or None)
    metrics_port: int = field(default_factory=lambda: int(_env("REFERRAL_METRICS_PORT", "0")))
    app_metrics_port: int = field(default_factory=lambda: int(_env("REFERRAL_APP_METRICS_PORT", "9465")))
    health_port: int = field(default_factory=lambda: int(_env("REFERRAL_HEALTH_PORT", "8081")))
    webhook_secret: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_WEBHOOK_SECRET") or None)
    language: str = field(default_factory=_language)
    # The migration (admin) role: DDL, the roster, erasure. DATABASE_URL is the runtime role.
    database_admin_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_ADMIN_URL") or None)
    # The payload codec's keyring: a file of `key_id base64key` lines, or the same lines in REFERRAL_KEYS.
    keys_file: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_KEYS_FILE") or None)
    log_format: str = field(default_factory=lambda: _env("REFERRAL_LOG_FORMAT", "auto"))
    log_level: str = field(default_factory=lambda: _env("REFERRAL_LOG_LEVEL", "info"))

    def dev_stack_running(self) -> bool:
        """`worker.py --dev` is running here (it leaves this marker while it runs)."""
        return (self.data_dir / "dev-stack").exists()

    def uses_dev_key(self) -> bool:
        return self.pii_key == DEV_PII_KEY

    def production_problems(self) -> list[str]:
        """What a real deployment must set: the payload keys are checked by casework.keys; here, a webhook
        that would go out unsigned."""
        return ["REFERRAL_WEBHOOK_SECRET is not set: webhooks would go out unsigned"] if (
            self.webhook_url and not self.webhook_secret) else []
