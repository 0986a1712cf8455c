"""Replays recorded histories: a change to ComplaintWorkflow that would break running cases fails here.

Record anew (only for a deliberate, patched change): RECORD_HISTORIES=1 pytest tests/workflows/test_sla_escalation.py
tests/integration/test_starter_end_to_end.py
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.complaint import ComplaintWorkflow

HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))


def test_there_are_recorded_histories():
    assert len(HISTORIES) >= 2


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path):
    history = WorkflowHistory.from_json(f"complaint-{path.stem}", path.read_text())
    replayer = Replayer(workflows=[ComplaintWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)  # raises on non-determinism
