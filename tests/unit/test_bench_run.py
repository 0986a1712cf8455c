"""bench/run.py's command line: --quick scales everything down, explicit flags still win."""

from __future__ import annotations

import pytest

from bench.run import QUICK, arguments


def test_full_run_defaults_follow_the_issue():
    args = arguments([])
    assert (args.cases, args.concurrency) == (300, 50)
    assert args.intake_rates == [2.0, 5.0, 10.0] and args.storm_sizes == [1000]
    assert args.storm_window == 60.0 and args.storm_overlap_rate == 5.0 and args.open_cases == 20_000
    assert args.stores == ["file", "memory"]


def test_quick_scales_down_but_a_given_flag_wins():
    args = arguments(["--quick", "--cases", "7", "--storm-sizes", "50,80"])
    assert args.cases == 7 and args.storm_sizes == [50, 80]
    assert args.concurrency == QUICK["concurrency"] and args.open_cases == QUICK["open_cases"]


def test_unknown_phases_are_refused(capsys):
    with pytest.raises(SystemExit):
        arguments(["--phases", "whole_life,storms"])
    assert "unknown phase(s) ['storms']" in capsys.readouterr().err


def test_storms_run_with_one_worker_process_unless_asked_and_never_with_none(capsys):
    assert arguments([]).storm_worker_processes == 1
    assert arguments(["--storm-worker-processes", "2"]).storm_worker_processes == 2
    with pytest.raises(SystemExit):
        arguments(["--storm-worker-processes", "0"])
    assert "at least 1" in capsys.readouterr().err
