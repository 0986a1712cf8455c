"""bench/server_metrics.py: matching's slow task-start calls, read from the dev server's /metrics page."""

from __future__ import annotations

from bench.server_metrics import record_started_calls, since

PAGE = "\n".join([
    "# HELP client_latency client_latency histogram",
    'client_latency_bucket{namespace="default",operation="HistoryClientRecordWorkflowTaskStarted",'
    'service_name="matching",service_role="history",le="0.5"} 90',
    'client_latency_bucket{namespace="default",operation="HistoryClientRecordWorkflowTaskStarted",'
    'service_name="matching",service_role="history",le="1"} 97',
    'client_latency_bucket{namespace="default",operation="HistoryClientRecordWorkflowTaskStarted",'
    'service_name="matching",service_role="history",le="+Inf"} 100',
    'client_latency_count{namespace="default",operation="HistoryClientRecordWorkflowTaskStarted",'
    'service_name="matching",service_role="history"} 100',
    'client_errors{error_type="serviceerror_TaskAlreadyStarted",namespace="default",'
    'operation="HistoryClientRecordWorkflowTaskStarted",service_name="matching",service_role="history"} 1',
    'client_errors{error_type="serviceerror_Canceled",namespace="default",operation="MatchingClientAddWorkflowTask",'
    'service_name="matching",service_role="matching"} 807',
    'client_latency_count{namespace="default",operation="HistoryClientRecordActivityTaskStarted",'
    'service_name="matching",service_role="history"} 40',
    'service_latency_count{namespace="default",operation="RecordWorkflowTaskStarted",service_name="history"} 100',
])


def test_counts_the_calls_over_the_one_second_sync_match_limit_and_the_failed_ones():
    assert record_started_calls(PAGE) == {"calls": 100, "over_1s": 3, "failed": 1, "failed:TaskAlreadyStarted": 1}


def test_a_page_without_the_metric_counts_nothing_and_differences_are_per_phase():
    assert record_started_calls("# nothing here") == {"calls": 0, "over_1s": 0, "failed": 0}
    assert since({"calls": 10, "over_1s": 1}, {"calls": 100, "over_1s": 3, "failed": 1}) == {"calls": 90, "over_1s": 2, "failed": 1}
