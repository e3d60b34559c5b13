"""The benchmark page's arithmetic: a reader compares the gateway with its peers through
these cells and ratios alone, so a median taken from the wrong run or a ratio turned
upside down would tell them the opposite of what was measured."""

from __future__ import annotations

from benchmarks.harness.report import aggregate, fmt_cell, ratio, scenario_rows
from benchmarks.harness.scenarios import Metric


def test_a_figure_is_the_median_of_the_runs_that_gave_one_with_their_range():
    assert aggregate([30.0, None, 10.0, 20.0]) == (20.0, 10.0, 30.0)
    assert fmt_cell(aggregate([3.0, 1.0, 2.0]), 1, runs=3) == "2.0 (1.0–3.0)"


def test_no_run_gives_n_a_rather_than_zero():
    assert aggregate([None, None]) is None
    assert fmt_cell(None, 1, runs=3) == "n/a"


def test_the_ratio_is_the_gateways_median_over_the_peers():
    gateway, peer = aggregate([400.0, 100.0, 300.0]), aggregate([200.0, 150.0, 100.0])
    assert ratio(gateway, peer) == "×2.00"
    assert ratio(gateway, aggregate([0.0])) == "n/a"


def test_a_row_puts_each_servers_figure_in_its_column_then_the_ratios_to_node_and_bare():
    runs = {"gateway": [{"p99": 10.0}], "node": [{"p99": 5.0}], "bare": [{"p99": 20.0}]}
    [row] = scenario_rows([Metric("p99", "p99 ms", "lower", 1)], ["gateway", "node", "bare"], runs, runs=1)
    assert row == ["p99 ms ↓", "10.0", "5.0", "20.0", "×2.00", "×0.50"]


def test_a_figure_without_a_direction_gets_no_ratio():
    runs = {"gateway": [{"n": 1000}], "node": [{"n": 1000}]}
    [row] = scenario_rows([Metric("n", "clients", "", 0)], ["gateway", "node"], runs, runs=1)
    assert row == ["clients", "1 000", "1 000", "", ""]


def test_with_the_gateway_under_uvicorn_as_a_column_its_ratio_to_node_follows():
    runs = {"gateway": [{"p99": 10.0}], "uvicorn": [{"p99": 15.0}], "node": [{"p99": 5.0}], "bare": [{"p99": 20.0}]}
    [row] = scenario_rows([Metric("p99", "p99 ms", "lower", 1)], ["gateway", "uvicorn", "node", "bare"], runs, runs=1)
    assert row == ["p99 ms ↓", "10.0", "15.0", "5.0", "20.0", "×2.00", "×0.50", "×3.00"]
