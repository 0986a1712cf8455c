"""Replays recorded histories: a change to ComplaintWorkflow that would break running cases fails here.

`tests/histories/*.json` were recorded from the current release's workflow (see tests/histories/README.md):
a whole life through the CLI, the March 2026 escalations, and a case that continued as new. A change must
keep them replaying (use `workflow.patched`, see README "Changing the workflow"); re-record only for a
deliberate, documented break with RECORD_HISTORIES=1 (the recording tests are named in the README there).
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from casework.runtime import converter_for
from casework.sandbox import workflow_runner
from referral.config import Settings
from worker import SANDBOX_RESTRICTIONS
from workflows.complaint import ComplaintWorkflow
from workflows.partner_referral import PartnerReferralWorkflow

HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))


def test_there_are_recorded_histories_including_a_continued_as_new_case():
    assert {p.stem for p in HISTORIES} >= {"bengkala_whole_life", "march_2026_escalations", "continued_as_new"}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path):
    history = WorkflowHistory.from_json(f"complaint-{path.stem}", path.read_text())
    replayer = Replayer(workflows=[ComplaintWorkflow, PartnerReferralWorkflow], data_converter=converter_for(Settings()),
                        workflow_runner=workflow_runner(SANDBOX_RESTRICTIONS))
    await replayer.replay_workflow(history)  # raises on non-determinism
