"""The payload converter: pydantic, with one cache of type adapters for the whole worker process.

The SDK builds a new payload converter for every workflow instance it starts or replays, and
`PydanticPayloadConverter` keeps its `TypeAdapter`s per converter: each cached case held its own adapters
for the same few models (about 15 KiB per open case, measured with tracemalloc at 2,000 cached cases).
Here every converter shares one process-wide cache. The models are the same class objects in every
instance (`referral` and `workflows` pass through the sandbox), and an adapter is immutable once built
and safe to use from the activation threads.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import CompositePayloadConverter, DefaultPayloadConverter, JSONPlainPayloadConverter

SHARED_ADAPTERS = 1024  # distinct type hints kept (the project has a few dozen)


@functools.lru_cache(maxsize=SHARED_ADAPTERS)
def type_adapter(hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(hint)


class SharedAdapterJSONConverter(PydanticJSONPlainPayloadConverter):
    """`json/plain` through pydantic, reading with the process-wide adapter for the type hint."""

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        hint = Any if type_hint is None else type_hint
        try:
            hash(hint)
        except TypeError:  # an unhashable hint cannot be cached: an adapter of its own
            return TypeAdapter(hint).validate_json(payload.data)
        return type_adapter(hint).validate_json(payload.data)


class CasePayloadConverter(CompositePayloadConverter):
    """The SDK's pydantic payload converter (`PydanticPayloadConverter`), with `SharedAdapterJSONConverter`
    in place of its JSON converter."""

    def __init__(self) -> None:
        shared = SharedAdapterJSONConverter(max_cached_type_adapters=0)  # its own per-instance cache unused
        super().__init__(*(shared if isinstance(converter, JSONPlainPayloadConverter) else converter
                           for converter in DefaultPayloadConverter.default_encoding_payload_converters))
