"""The payload converter: pydantic, with one set of encoding converters for the whole worker process.

The SDK builds a new payload converter for every workflow instance it starts or replays. With
`PydanticPayloadConverter` each of them made its own JSON converter, and with it its own cache of pydantic
type adapters for the same few models, its own serializer and its own cache wrapper: kilobytes held by every
cached case. Here every instance delegates to the same converters, so the adapters are built once per
process. That is safe: the converters hold no state but that cache, the models are the same class objects
in every instance (`referral` and `workflows` pass through the sandbox), and the cache is thread-safe.
"""

from __future__ import annotations

import functools

from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter, DefaultPayloadConverter, EncodingPayloadConverter, JSONPlainPayloadConverter,
)


@functools.cache
def shared_converters() -> tuple[EncodingPayloadConverter, ...]:
    """The SDK's default encodings with pydantic for JSON, as `PydanticPayloadConverter` has them: made once."""
    return tuple(PydanticJSONPlainPayloadConverter() if isinstance(converter, JSONPlainPayloadConverter) else converter
                 for converter in DefaultPayloadConverter.default_encoding_payload_converters)


class CasePayloadConverter(CompositePayloadConverter):
    """`PydanticPayloadConverter`'s behaviour over `shared_converters()`."""

    def __init__(self) -> None:
        super().__init__(*shared_converters())
