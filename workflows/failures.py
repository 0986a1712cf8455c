"""How the workflow reads a failed data step: permanent (needs a person) or transient (can heal)."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError as TemporalTimeout

PERMANENT_TYPES = ("PermanentDataError", "SealedDataError")


def is_permanent(err: ActivityError) -> bool:
    cause = err.cause
    return isinstance(cause, ApplicationError) and (cause.type in PERMANENT_TYPES or cause.non_retryable)


def problem(err: ActivityError) -> str:
    """One line for the case's details and its audit trail; activities never put personal data in errors."""
    cause = err.cause
    if isinstance(cause, TemporalTimeout):
        return "timed out (is PostgreSQL reachable?)"
    if isinstance(cause, ApplicationError):
        return f"{cause.type or 'error'}: {cause.message}"[:300]
    return (str(cause) if cause else str(err))[:300]
