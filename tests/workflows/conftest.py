import pytest
from temporalio.service import RPCError

from tests.workflows.test_complaint_lifecycle import STARTED


@pytest.fixture(autouse=True)
async def terminate_cases_after_each_test():
    """The time-skipping server will not skip time while any workflow waits for a worker that has
    gone, so a test's cases must not outlive it."""
    yield
    while STARTED:
        handle = STARTED.pop()
        try:
            await handle.terminate(reason="test finished")
        except RPCError:
            pass  # already completed
