"""How the workflow reads a failed data step: permanent (needs a person) or transient (can heal).

A local activity's failure reaches the workflow either wrapped (ActivityError with the cause inside) or as
the activity's own ApplicationError; both are `StepFailed` here.
"""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, FailureError, TimeoutError as TemporalTimeout

StepFailed = FailureError
PERMANENT_TYPES = ("PermanentDataError", "SealedDataError")


def cause(err: FailureError) -> BaseException | None:
    return err.cause if isinstance(err, ActivityError) else err


def kind(err: FailureError) -> str | None:
    found = cause(err)
    return found.type if isinstance(found, ApplicationError) else None


def is_permanent(err: FailureError) -> bool:
    found = cause(err)
    return isinstance(found, ApplicationError) and (found.type in PERMANENT_TYPES or found.non_retryable)


def problem(err: FailureError) -> str:
    """One line for the case's details and its audit trail; activities never put personal data in errors."""
    found = cause(err)
    if isinstance(found, TemporalTimeout):
        return "timed out (is PostgreSQL reachable?)"
    if isinstance(found, ApplicationError):
        return f"{found.type or 'error'}: {found.message}"[:300]
    return (str(found) if found else str(err))[:300]
