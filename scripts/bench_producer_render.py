"""Renders scripts/bench-producer's results: docs/benchmarks-producer.json, .md and .png.

Usage: bench_producer_render.py RESULTS_DIR DOCS_DIR. Each run is RESULTS_DIR/{rust,kpl}-{on,off}-N.json;
the tables quote the median round of each producer and mode, and the ratios are of those medians.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAMES = {"rust": "shardline-producer", "kpl": "KPL 1.0.x"}


def load(results: Path) -> dict:
    runs: dict = {}
    for path in sorted(results.glob("*-*-*.json")):
        who, mode, _ = path.stem.split("-")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError):
            continue
        runs.setdefault((who, mode), []).append(data)
    return runs


def median_run(runs: list[dict]) -> dict:
    ordered = sorted(runs, key=lambda r: r.get("records_per_sec", 0))
    return ordered[len(ordered) // 2]


def main() -> None:
    results, docs = Path(sys.argv[1]), Path(sys.argv[2])
    meta = dict(
        line.split("=", 1) for line in (results / "meta.txt").read_text().splitlines() if "=" in line
    )
    runs = load(results)
    table = {}
    for (who, mode), rs in runs.items():
        m = median_run(rs)
        table[f"{who}-{mode}"] = {
            "producer": NAMES[who],
            "aggregation": mode,
            "rounds": len(rs),
            "records_per_sec": m.get("records_per_sec"),
            "all_rounds_records_per_sec": sorted(r.get("records_per_sec", 0) for r in rs),
            "rss_peak_mib": m.get("rss_peak_mib"),
            "failed": m.get("failed"),
            "seconds": m.get("seconds"),
        }
    (docs / "benchmarks-producer.json").write_text(json.dumps({"meta": meta, "results": table}, indent=2) + "\n")

    lines = [
        "# Producer benchmark: shardline-producer and the KPL",
        "",
        "Written by `./scripts/bench-producer` (do not edit by hand). "
        f"{int(meta.get('records', 0)):,} user records of {meta.get('size')} bytes, a random partition key each, "
        f"on a stream of {meta.get('shards')} shards, {meta.get('rounds')} rounds: put through each producer "
        "to the same durable shardline (`--limits off`) over HTTPS; records/s from the first put until every "
        "record was answered; peak resident memory of the producing process (for the KPL, the JVM and its native "
        "daemon together). Median of the rounds; every round's rate in brackets.",
        "",
        f"Machine: {meta.get('nproc')} cores, {meta.get('cpu')}; {meta.get('java')}; commit {meta.get('commit')}, "
        f"{meta.get('date')}. The server shares the machine with the producer.",
        "",
        "| producer | aggregation | user records/s | peak RSS (MiB) | rounds |",
        "|---|---|---:|---:|---|",
    ]
    for key in ("rust-on", "kpl-on", "rust-off", "kpl-off"):
        row = table.get(key)
        if not row:
            continue
        rounds = ", ".join(f"{r:,.0f}" for r in row["all_rounds_records_per_sec"])
        lines.append(
            f"| {row['producer']} | {row['aggregation']} | {row['records_per_sec']:,.0f} | "
            f"{row['rss_peak_mib']:.1f} | {rounds} |"
        )
    lines.append("")
    for mode in ("on", "off"):
        rust, kpl = table.get(f"rust-{mode}"), table.get(f"kpl-{mode}")
        if rust and kpl and kpl["records_per_sec"] and kpl["rss_peak_mib"]:
            lines.append(
                f"- aggregation {mode}: shardline-producer puts "
                f"**{rust['records_per_sec'] / kpl['records_per_sec']:.1f}×** the KPL's records/s "
                f"in **{rust['rss_peak_mib'] / kpl['rss_peak_mib']:.2f}×** its memory."
            )
    lines += ["", "![producer records/s and memory](benchmarks-producer.png)", ""]
    (docs / "benchmarks-producer.md").write_text("\n".join(lines))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    labels, rates, mems, colors = [], [], [], []
    for key in ("rust-on", "kpl-on", "rust-off", "kpl-off"):
        row = table.get(key)
        if not row:
            continue
        labels.append(f"{row['producer']}\naggregation {row['aggregation']}")
        rates.append(row["records_per_sec"] or 0)
        mems.append(row["rss_peak_mib"] or 0)
        colors.append("#2b6cb0" if key.startswith("rust") else "#c05621")
    ax1.bar(labels, rates, color=colors)
    ax1.set_title("user records/s (higher is better)")
    ax2.bar(labels, mems, color=colors)
    ax2.set_title("peak RSS, MiB (lower is better)")
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(docs / "benchmarks-producer.png", dpi=110)


if __name__ == "__main__":
    main()
