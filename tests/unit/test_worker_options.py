"""The worker's cache, task slots and deployment versioning come from the settings."""

from dataclasses import replace

from temporalio.common import VersioningBehavior

from referral.config import Settings
from worker import build_id, worker_options


def test_defaults_keep_a_large_cache_eight_task_slots_and_no_versioning():
    assert worker_options(Settings()) == {"max_cached_workflows": 1000, "max_concurrent_workflow_tasks": 8}
    assert "max_concurrent_workflow_tasks" not in worker_options(replace(Settings(), max_concurrent_workflow_tasks=0))


def test_versioning_pins_runs_to_the_package_version():
    options = worker_options(replace(Settings(), worker_versioning=True, max_concurrent_workflow_tasks=20,
                                     max_cached_workflows=500))
    config = options["deployment_config"]
    assert (options["max_cached_workflows"], options["max_concurrent_workflow_tasks"]) == (500, 20)
    assert config.use_worker_versioning and config.default_versioning_behavior == VersioningBehavior.PINNED
    assert (config.version.deployment_name, config.version.build_id) == ("referral", build_id())
