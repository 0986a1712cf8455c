"""One typed, named Temporal Update per human action, all run through the workflow's one action path.

Clients and the Web UI see `acknowledge`, `assess`, … as ordinary updates with their input types; each is
built here from its name and input model instead of repeating a handler and a validator per action.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from referral.actions import RULES
    from referral.models import CaseSummary


def action_update(name: str) -> Any:
    """An update named `name` taking that action's input model: validator `_refuse`, handler `_act`."""
    request_type = RULES[name].request

    async def handler(self: Any, request: Any) -> CaseSummary:
        return await self._act(name, request)

    def validator(self: Any, request: Any) -> None:
        self._refuse(name, request)

    handler.__name__ = handler.__qualname__ = name
    handler.__annotations__ = {"request": request_type, "return": CaseSummary}
    validator.__annotations__ = {"request": request_type, "return": None}
    update = workflow.update(name=name)(handler)
    update.validator(validator)
    return update
