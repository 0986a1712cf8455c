"""Settings from environment variables, with defaults that run on a fresh machine.

Every setting is listed in README.md ("Settings").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

DEV_PII_KEY = "dev-only-pii-key: set REFERRAL_PII_KEY in production"
DEV_HASH_SALT = "buleleng-dev-salt"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _dev_database_url() -> str | None:
    """The embedded Postgres of a running `worker.py --dev`, so the CLI's report and roster commands find it."""
    path = Path(_env("REFERRAL_DATA_DIR", "var")) / "database_url"
    return path.read_text().strip() if path.exists() else None


def _time(name: str, default: str) -> time:
    raw = _env(name, default)
    try:
        return time.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be HH:MM, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    temporal_address: str = field(default_factory=lambda: _env("TEMPORAL_ADDRESS", "localhost:7233"))
    temporal_namespace: str = field(default_factory=lambda: _env("TEMPORAL_NAMESPACE", "default"))
    task_queue: str = field(default_factory=lambda: _env("REFERRAL_TASK_QUEUE", "referral"))
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or _dev_database_url())
    data_dir: Path = field(default_factory=lambda: Path(_env("REFERRAL_DATA_DIR", "var")))
    sla_policy_file: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_SLA_POLICY") or None)
    closures_file: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_CLOSURES_FILE") or None)
    roster_file: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_ROSTER_FILE") or None)
    office_open: time = field(default_factory=lambda: _time("REFERRAL_OFFICE_OPEN", "08:00"))
    office_close: time = field(default_factory=lambda: _time("REFERRAL_OFFICE_CLOSE", "16:00"))
    utc_offset_minutes: int = field(default_factory=lambda: int(_env("REFERRAL_UTC_OFFSET_MINUTES", "480")))
    pii_key: str = field(default_factory=lambda: _env("REFERRAL_PII_KEY", DEV_PII_KEY))
    hash_salt: str = field(default_factory=lambda: _env("REFERRAL_HASH_SALT", DEV_HASH_SALT))
    ui_url: str = field(default_factory=lambda: _env("REFERRAL_UI_URL", "http://localhost:8233"))
    smtp_host: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_SMTP_HOST") or None)
    smtp_port: int = field(default_factory=lambda: int(_env("REFERRAL_SMTP_PORT", "25")))
    smtp_sender: str = field(default_factory=lambda: _env("REFERRAL_SMTP_SENDER", "rujukan@dinsos.example"))
    webhook_url: str | None = field(default_factory=lambda: os.environ.get("REFERRAL_WEBHOOK_URL") or None)
    metrics_port: int = field(default_factory=lambda: int(_env("REFERRAL_METRICS_PORT", "0")))
    log_format: str = field(default_factory=lambda: _env("REFERRAL_LOG_FORMAT", "auto"))
    log_level: str = field(default_factory=lambda: _env("REFERRAL_LOG_LEVEL", "info"))

    def production_problems(self) -> list[str]:
        """Secrets still at their public development values: a real deployment must set them."""
        return [
            f"{name} is not set (the development default is public)"
            for name, value, default in (
                ("REFERRAL_PII_KEY", self.pii_key, DEV_PII_KEY),
                ("REFERRAL_HASH_SALT", self.hash_salt, DEV_HASH_SALT),
            )
            if value == default
        ]
