"""Sorting an activity's failures: what can heal is retried, what never will is final.

Transient: the connection to Postgres lost or refused, the server restarting, too many connections, a
serialization failure or deadlock, a timeout. Permanent: data Postgres refuses (a constraint, a bad
character), input that does not validate, personal data that does not open, a roster that leaves a village
without a pendamping. A permanent failure is raised as a non-retryable ApplicationError of type
`PermanentDataError` (or `SealedDataError`), and the workflow puts the case in `needs_attention`.

Messages name the kind of failure, never the values: Postgres' own messages can quote a row's data.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Awaitable, Callable, TypeVar

import asyncpg
import pydantic
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

log = structlog.get_logger(__name__)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

TRANSIENT = (
    asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError, asyncpg.exceptions.TransactionRollbackError,
    asyncpg.exceptions.QueryCanceledError, OSError, ConnectionError, asyncio.TimeoutError, TimeoutError,
)
PERMANENT = (
    asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, asyncpg.exceptions.SyntaxOrAccessError,
    pydantic.ValidationError, LookupError, ValueError, KeyError,
)


class SealedDataError(ValueError):
    """Personal data or free text that does not open under the keys this worker holds."""


def describe(exc: BaseException) -> str:
    if isinstance(exc, asyncpg.PostgresError):
        return f"PostgreSQL refused the data ({type(exc).__name__}, SQLSTATE {exc.sqlstate})"
    if isinstance(exc, pydantic.ValidationError):
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        return f"invalid data in {', '.join(fields)[:200]}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def sorted_errors(fn: F) -> F:
    """Let transient failures through (Temporal retries them); make permanent ones final and plain."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except ApplicationError:
            raise
        except SealedDataError as exc:
            log.error("activity failed for good", activity=activity.info().activity_type, error="SealedDataError")
            raise ApplicationError(str(exc), type="SealedDataError", non_retryable=True) from None
        except TRANSIENT as exc:
            log.warning("activity failed, will retry", activity=activity.info().activity_type,
                        error=type(exc).__name__)
            raise ApplicationError(describe(exc), type="TransientDataError") from None
        except PERMANENT as exc:
            log.error("activity failed for good", activity=activity.info().activity_type, error=type(exc).__name__)
            raise ApplicationError(describe(exc), type="PermanentDataError", non_retryable=True) from None

    return wrapper  # type: ignore[return-value]
