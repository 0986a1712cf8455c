"""The codec leaves bare JSON strings in clear (summaries and details must stay readable in the Web UI),
so no workflow, update, query, signal or activity of the project may take or return a value whose JSON
can be a bare string (str, str enums, Literal strings, dates, Any...): it would reach Temporal's history
unencrypted. Each workflow and activity in the `workflows` and `activities` packages is checked here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any, Iterator

import pytest
import temporalio.activity
import temporalio.workflow
from pydantic import TypeAdapter

import activities
import workflows

# (signature, reason): each entry is a decision, reviewed like code. Remove an entry when its signature
# changes; a stale entry fails the test too.
CLEAR_BY_DESIGN: dict[str, str] = {
    "ComplaintWorkflow update opened arg 0": "the submission id: a random uuid hex, never personal data "
                                             "(better: a model; the lead's change, see casework/codec.py)",
}


def _modules(package) -> Iterator[Any]:
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        yield importlib.import_module(info.name)


def _defined_here(value: Any, module: Any) -> bool:
    return getattr(value, "__module__", None) == module.__name__


def signatures() -> Iterator[tuple[str, Any]]:
    """(where, type) for every argument and result of the project's Temporal definitions."""
    for module in _modules(workflows):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            definition = getattr(cls, "__temporal_workflow_definition", None)
            if definition is None or not _defined_here(cls, module):
                continue
            name = definition.name
            yield from _typed(f"{name} run", definition.arg_types, definition.ret_type)
            for kind, handlers in (("update", definition.updates), ("query", definition.queries),
                                   ("signal", definition.signals)):
                for handler_name, handler in handlers.items():
                    if handler_name is None or handler_name.startswith("__"):
                        continue  # dynamic or the SDK's own
                    yield from _typed(f"{name} {kind} {handler_name}", handler.arg_types,
                                      getattr(handler, "ret_type", None))
    for module in _modules(activities):
        candidates = [v for _, v in inspect.getmembers(module, inspect.isfunction) if _defined_here(v, module)]
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if _defined_here(cls, module):
                candidates += [v for _, v in inspect.getmembers(cls, inspect.isfunction)]
        for fn in candidates:
            definition = getattr(fn, "__temporal_activity_definition", None)
            if definition is not None:
                yield from _typed(f"activity {definition.name}", definition.arg_types, definition.ret_type)


def _typed(where: str, arg_types: list[Any] | None, ret_type: Any) -> Iterator[tuple[str, Any]]:
    if arg_types is None:
        yield f"{where} args", Any  # untyped: anything, a string included
        return
    for index, arg_type in enumerate(arg_types):
        yield f"{where} arg {index}", arg_type
    yield f"{where} result", ret_type if ret_type is not None else type(None)


def json_kinds(tp: Any) -> set[str]:
    """The JSON types a value of `tp` may serialize to ("any" when unconstrained)."""
    schema = TypeAdapter(tp).json_schema(mode="serialization")
    return _kinds(schema, schema.get("$defs", {}))


def _kinds(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        return _kinds(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return set().union(*(_kinds(part, defs) for part in schema[combinator]))
    if "type" in schema:
        return set(schema["type"]) if isinstance(schema["type"], list) else {schema["type"]}
    values = schema.get("enum", [schema["const"]] if "const" in schema else None)
    if values is not None:
        return {"string" if isinstance(v, str) else "other" for v in values}
    return {"any"}


@pytest.mark.parametrize("tp, may_be_string", [
    (str, True), (int, False), (type(None), False), (dict[str, str], False), (list[str], False),
    (Any, True), (str | None, True),
])
def test_json_kinds(tp, may_be_string):
    assert bool(json_kinds(tp) & {"string", "any"}) is may_be_string


def test_json_kinds_sees_strings_behind_enums_literals_and_dates():
    import enum
    from datetime import date
    from typing import Literal

    class Status(str, enum.Enum):
        OPEN = "open"

    for tp in (Status, Literal["a", "b"], date):
        assert "string" in json_kinds(tp)


def test_the_scan_finds_the_project_definitions():
    found = dict(signatures())
    assert "ComplaintWorkflow run arg 0" in found and "ComplaintWorkflow query state result" in found
    assert any(where.startswith("activity ") for where in found)


def test_no_signature_takes_or_returns_a_bare_string():
    bare = {where: tp for where, tp in signatures() if json_kinds(tp) & {"string", "any"}}
    unexpected = sorted(set(bare) - set(CLEAR_BY_DESIGN))
    assert unexpected == [], (
        "these would reach Temporal's history in clear (the codec leaves bare JSON strings unencrypted): "
        "wrap them in a model: " + ", ".join(f"{w} ({bare[w]})" for w in unexpected))
    stale = sorted(set(CLEAR_BY_DESIGN) - set(bare))
    assert stale == [], f"remove these entries from CLEAR_BY_DESIGN: {stale}"
