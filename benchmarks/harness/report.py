"""Figures to text: the median of the runs with their range, the gateway's ratio to each
peer, and the Markdown page. Pure functions of the collected figures."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

RATIO_PEERS = ("node", "bare")


def ratio_pairs(columns: Sequence[str]) -> list[tuple[str, str]]:
    """Which ratios a table shows: the gateway to each peer, and, when the gateway under
    uvicorn is a column, that one to the Node peer (what the opt-in server reaches)."""
    pairs = [("gateway", peer) for peer in RATIO_PEERS]
    if "uvicorn" in columns:
        pairs.append(("uvicorn", "node"))
    return pairs


def ratio_headers(columns: Sequence[str]) -> list[str]:
    return [f"{mine} / {peer}" for mine, peer in ratio_pairs(columns)]


def aggregate(values: Iterable[float | None]) -> tuple[float, float, float] | None:
    """(median, min, max) of the runs that produced a figure; None when none did."""
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    return statistics.median(present), present[0], present[-1]


def fmt_number(value: float | None, digits: int) -> str:
    if value is None:
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:,.{digits}f}".replace(",", " ")


def fmt_cell(stats: tuple[float, float, float] | None, digits: int, runs: int) -> str:
    """``median (min–max)``; just the value when one run gave it or the runs agree."""
    if stats is None:
        return "n/a"
    median, low, high = stats
    if runs <= 1 or low == high:
        return fmt_number(median, digits)
    return f"{fmt_number(median, digits)} ({fmt_number(low, digits)}–{fmt_number(high, digits)})"


def ratio(gateway: tuple[float, float, float] | None, peer: tuple[float, float, float] | None) -> str:
    """The gateway's median over the peer's, as ``×1.23``; n/a when either is missing or 0."""
    if gateway is None or peer is None or peer[0] == 0:
        return "n/a"
    return f"×{gateway[0] / peer[0]:.2f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            str(cell).ljust(w) if i == 0 else str(cell).rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        )
        for row in [header, *rows]
    )


def direction(better: str) -> str:
    return {"higher": " ↑", "lower": " ↓"}.get(better, "")


def scenario_rows(
    metrics: Sequence, columns: Sequence[str], runs_by_kind: dict[str, list[dict]], runs: int
) -> list[list[str]]:
    """One row per metric: a cell per server column, then the ratios of ``ratio_pairs``."""
    rows = []
    for metric in metrics:
        stats = {kind: aggregate(run.get(metric.key) for run in runs_by_kind.get(kind, [])) for kind in columns}
        cells = [fmt_cell(stats[kind], metric.digits, runs) for kind in columns]
        ratios = [ratio(stats.get(mine), stats.get(peer)) if metric.better else "" for mine, peer in ratio_pairs(columns)]
        rows.append([metric.label + direction(metric.better), *cells, *ratios])
    return rows
