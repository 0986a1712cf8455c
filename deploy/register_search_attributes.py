"""Register the case search attributes (workflows.search_attributes.ALL) on a Temporal namespace.

    python deploy/register_search_attributes.py [--address HOST:PORT] [--namespace NS] [--wait SECONDS]

Defaults come from TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (referral.config.Settings); a locked-down cluster
is reached with the same TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY / TEMPORAL_TLS_CA / TEMPORAL_API_KEY as the
worker (casework.runtime.tls_config). It lists the
namespace's search attributes first and adds only the missing ones, so running it again is harmless.
An attribute that exists with another type is an error: Temporal cannot change a type in place.
Exit status: 0 done (or nothing to do), 1 the server is unreachable or refused the change.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Sequence

# Run as `python deploy/register_search_attributes.py` from anywhere: the repository root holds `workflows`.
_REPO_ROOT = Path(__file__).resolve().parent.parent
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

from temporalio.api.enums.v1 import IndexedValueType  # noqa: E402
from temporalio.api.operatorservice.v1 import (  # noqa: E402
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client  # noqa: E402
from temporalio.common import SearchAttributeKey  # noqa: E402
from temporalio.service import RPCError, RPCStatusCode  # noqa: E402

from casework.runtime import tls_config  # noqa: E402
from referral.config import Settings  # noqa: E402
from workflows import search_attributes  # noqa: E402

CONNECT_TIMEOUT_S = 10.0


class TlsSettingsError(ValueError):
    """TEMPORAL_TLS_* name files that cannot be read, or a certificate without its key."""


class SearchAttributeConflict(RuntimeError):
    """A wanted attribute already exists on the namespace with a different type."""

    def __init__(self, namespace: str, conflicts: dict[str, tuple[int, int]]) -> None:
        self.conflicts = conflicts
        detail = ", ".join(
            f"{name} is {type_name(have)}, the code wants {type_name(want)}"
            for name, (have, want) in sorted(conflicts.items())
        )
        super().__init__(f"namespace {namespace!r}: {detail}")


def type_name(value: int) -> str:
    """INDEXED_VALUE_TYPE_KEYWORD -> Keyword, the spelling of the Temporal CLI."""
    return search_attributes.CLI_TYPES.get(
        IndexedValueType.Name(value).removeprefix("INDEXED_VALUE_TYPE_"), IndexedValueType.Name(value)
    )


def wanted_types(keys: Sequence[SearchAttributeKey] | None = None) -> dict[str, int]:
    """Name -> IndexedValueType for the declared keys (all of workflows.search_attributes.ALL by default)."""
    return {key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
            for key in (search_attributes.ALL if keys is None else keys)}


async def existing_types(client: Client, namespace: str) -> dict[str, int]:
    """Every search attribute the namespace knows (custom and system), name -> IndexedValueType."""
    resp = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    return {**dict(resp.system_attributes), **dict(resp.custom_attributes)}


async def _add_one_by_one(client: Client, namespace: str, wanted: dict[str, int]) -> list[str]:
    """For servers without ListSearchAttributes (the time-skipping test server): add each, skip ALREADY_EXISTS.

    This path cannot see a type conflict; servers that answer ListSearchAttributes never take it.
    """
    added = []
    for name, value_type in wanted.items():
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes={name: value_type}))
        except RPCError as exc:
            if exc.status != RPCStatusCode.ALREADY_EXISTS:
                raise
            continue
        added.append(name)
    return added


async def register(client: Client, namespace: str, keys: Sequence[SearchAttributeKey] | None = None) -> list[str]:
    """Add the missing search attributes to `namespace`; return the names added (empty when all were there).

    Raises SearchAttributeConflict when one exists with another type, RPCError when the server refuses.
    """
    wanted = wanted_types(keys)
    try:
        existing = await existing_types(client, namespace)
    except RPCError as exc:
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        return await _add_one_by_one(client, namespace, wanted)

    conflicts = {name: (existing[name], t) for name, t in wanted.items() if name in existing and existing[name] != t}
    if conflicts:
        raise SearchAttributeConflict(namespace, conflicts)
    missing = {name: t for name, t in wanted.items() if name not in existing}
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing))
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
        # Another registrar got there between our list and add: settle it one by one.
        return await _add_one_by_one(client, namespace, missing)
    return list(missing)


async def _connect(address: str, namespace: str, wait_s: float, settings: Settings) -> Client:
    deadline = time.monotonic() + wait_s
    try:
        tls = tls_config(settings)
    except (ValueError, OSError) as exc:  # a certificate without its key, or a PEM file that is not there
        raise TlsSettingsError(str(exc)) from exc
    while True:
        try:
            return await asyncio.wait_for(
                Client.connect(address, namespace=namespace, tls=tls, api_key=settings.temporal_api_key),
                CONNECT_TIMEOUT_S)
        except (RuntimeError, OSError, asyncio.TimeoutError) as exc:
            if time.monotonic() >= deadline:
                detail = str(exc) or type(exc).__name__
                raise ConnectionError(detail) from exc
            print(f"waiting for Temporal at {address} ...", file=sys.stderr)
            await asyncio.sleep(2)


async def _run(address: str, namespace: str, wait_s: float, settings: Settings | None = None) -> int:
    print(f"Temporal {address}, namespace {namespace!r}")
    try:
        client = await _connect(address, namespace, wait_s, settings or Settings())
    except TlsSettingsError as exc:
        print(f"error: the Temporal TLS settings are unusable: {exc}", file=sys.stderr)
        return 1
    except ConnectionError as exc:
        print(f"error: cannot reach the Temporal server at {address}: {exc}\n"
              f"Is it running? Pass --address HOST:PORT or set TEMPORAL_ADDRESS.", file=sys.stderr)
        return 1

    deadline = time.monotonic() + wait_s
    while True:
        try:
            added = await register(client, namespace)
            break
        except SearchAttributeConflict as exc:
            print(f"error: search attribute type conflict: {exc}.\n"
                  f"Temporal cannot retype an attribute: remove it (temporal operator search-attribute remove)"
                  f" or rename the key in workflows/search_attributes.py.", file=sys.stderr)
            return 1
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND and time.monotonic() < deadline:
                print(f"waiting for namespace {namespace!r} ...", file=sys.stderr)
                await asyncio.sleep(2)
                continue
            hint = (f" Create it first: temporal operator namespace create {namespace}"
                    if exc.status == RPCStatusCode.NOT_FOUND else "")
            print(f"error: Temporal refused ({exc.status.name}): {exc.message}.{hint}", file=sys.stderr)
            return 1

    wanted = wanted_types()
    for name in added:
        print(f"  registered      {name} ({type_name(wanted[name])})")
    for name in wanted:
        if name not in added:
            print(f"  already present {name} ({type_name(wanted[name])})")
    print(f"done: {len(added)} registered, {len(wanted) - len(added)} already present")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", default=settings.temporal_address,
                        help=f"Temporal frontend HOST:PORT (default from TEMPORAL_ADDRESS: {settings.temporal_address})")
    parser.add_argument("--namespace", default=settings.temporal_namespace,
                        help=f"namespace (default from TEMPORAL_NAMESPACE: {settings.temporal_namespace})")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="keep retrying an unreachable server or a missing namespace this long (default 0)")
    args = parser.parse_args(argv)
    return asyncio.run(_run(args.address, args.namespace, args.wait, settings))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalisation: the Temporal client's native threads can abort it
    # ("PyGILState_Release"), turning a clean exit code into 134 (as in starter.py).
    os._exit(code)
