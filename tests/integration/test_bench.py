"""The ledger benchmark runs end to end on a small ledger (figures are not checked: benchmarks are commands)."""

from __future__ import annotations

from pathlib import Path

from lovemart_tools.bench_ledger import run_ledger_bench

KEYS = {
    "transactions",
    "households",
    "seeded_transactions",
    "samples",
    "seed_s",
    "redeem_p50_ms",
    "redeem_p99_ms",
    "baseline_redeem_p50_ms",
    "baseline_redeem_p99_ms",
    "ratio_redeem_p99",
    "balance_p50_ms",
    "balance_p99_ms",
    "audit_s",
    "audit_ok",
    "audit_problems",
    "peak_rss_mb",
}


def test_small_ledger_bench_reports_every_figure_and_a_clean_audit(tmp_path: Path) -> None:
    result = run_ledger_bench(transactions=3000, samples=50, workdir=tmp_path)
    assert KEYS <= set(result)
    assert result["audit_ok"] is True
    assert result["audit_problems"] == 0
    # The seeded year plus the measured redemptions, both through the service and the baseline.
    assert result["transactions"] >= 3000 + 2 * 50
    assert result["households"] == 1000
    for key in KEYS - {"audit_ok", "audit_problems"}:
        assert isinstance(result[key], int | float), key
        assert result[key] > 0, key
    assert list(tmp_path.iterdir()) == []  # the temporary ledger is gone


def test_a_ledger_smaller_than_its_samples_still_runs_clean(tmp_path: Path) -> None:
    # Ten transactions cannot fund 2 x 120 redemptions: the bench tops up points and stock itself.
    result = run_ledger_bench(transactions=10, samples=120, workdir=tmp_path)
    assert result["audit_ok"] is True
    assert result["seeded_transactions"] == 10


def test_the_console_bench_runs_end_to_end_on_a_tiny_township() -> None:
    """``lovemart bench console`` at its smallest: seeding, a real server, every page of the mix, baselines."""
    from lovemart_tools.bench_console import run_console_bench

    figures = run_console_bench(None, scale=0.0005, requests=25)
    assert figures["database"] == "sqlite" and figures["transactions"] >= figures["households"]
    for key in (
        "search_p95_ms",
        "statement_p95_ms",
        "saturated_pages_per_s",
        "saturated_search_p95_ms",
        "baseline_overview_sql_ms",
        "baseline_export_sql_ms",
    ):
        assert figures[key] >= 0, key
    assert {"overview_within_target", "search_within_target", "statement_within_target"} <= set(figures)


def test_the_workflow_bench_runs_end_to_end_on_a_small_village() -> None:
    """``lovemart bench workflow`` at its smallest: import, check, review, publish, notice PDF, issue, a pull."""
    from lovemart_tools.bench_workflow import run_workflow_bench

    figures = run_workflow_bench(None, items=20, notice=10)
    assert figures["issued"] == 20 and figures["shop_pulled_changes"] >= 20
    for key in ("import_s", "check_s", "review_s", "publish_s", "notice_pdf_s", "issue_s", "baseline_plain_inserts_s"):
        assert figures[key] >= 0, key
    assert {"issue_within_target", "notice_pdf_within_target", "pages_p95_within_target"} <= set(figures)
