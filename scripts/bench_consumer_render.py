"""Renders scripts/bench-consumer's results: docs/benchmarks-consumer.json, .md and .png.

Usage: bench_consumer_render.py RESULTS_DIR DOCS_DIR. Each run is RESULTS_DIR/{rust,kcl}-{polling,fanout}-N.json;
the tables quote the median round (by records/s) of each consumer and mode.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAMES = {"rust": "shardline-consumer", "kcl": "KCL 3.x (Java)"}
ORDER = ("rust-polling", "kcl-polling", "rust-fanout", "kcl-fanout")


def main() -> None:
    results, docs = Path(sys.argv[1]), Path(sys.argv[2])
    meta = dict(line.split("=", 1) for line in (results / "meta.txt").read_text().splitlines() if "=" in line)
    runs: dict[str, list[dict]] = {}
    for path in sorted(results.glob("*-*-*.json")):
        who, mode, _ = path.stem.split("-")
        try:
            runs.setdefault(f"{who}-{mode}", []).append(json.loads(path.read_text()))
        except (json.JSONDecodeError, OSError):
            continue
    table = {}
    for key, rs in runs.items():
        rs = sorted(rs, key=lambda r: r.get("records_per_sec", 0))
        m = rs[len(rs) // 2]
        who, mode = key.split("-")
        table[key] = {
            "consumer": NAMES[who],
            "mode": "fan-out" if mode == "fanout" else "polling",
            "rounds": len(rs),
            "records_per_sec": m.get("records_per_sec", 0),
            "every_round": [r.get("records_per_sec", 0) for r in rs],
            "startup_seconds": m.get("startup_seconds"),
            "p50_ms": m.get("latency_ms", {}).get("p50"),
            "p99_ms": m.get("latency_ms", {}).get("p99"),
            "latency_records": m.get("latency_records"),
        }
    (docs / "benchmarks-consumer.json").write_text(json.dumps({"meta": meta, "results": table}, indent=2) + "\n")
    lines = [
        "# Consumer benchmark: shardline-consumer and the Java KCL",
        "",
        "Written by `./scripts/bench-consumer` (do not edit by hand). Each consumer against its own fresh durable "
        "shardline (`--limits off`), leases in a DynamoDB-compatible server (moto), one worker, a processor that "
        "only counts and checkpoints after each batch. Throughput: "
        f"{int(meta.get('records', 0)):,} records of {meta.get('size')} bytes on {meta.get('shards')} shards, put "
        "first, timed from the first record processed to the last (polling: GetRecords of up to 10,000 records, "
        "200 ms pause at the tip, for both). Latency: records put one by one with PutRecord at "
        f"{meta.get('rate')} a second for {meta.get('seconds')} s, sent → processed. Median of "
        f"{meta.get('rounds')} rounds (by records/s); every round's rate listed.",
        "",
        f"Machine: {meta.get('nproc')} cores, {meta.get('cpu')}; {meta.get('java')}; commit {meta.get('commit')}, "
        f"{meta.get('date')}. The server, moto and the consumer share the machine.",
        "",
        "| consumer | retrieval | records/s | put → processed p50 ms | p99 ms | first record after (s) | every round (records/s) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for key in ORDER:
        r = table.get(key)
        if not r:
            continue
        rounds = ", ".join(f"{x:,.0f}" for x in r["every_round"])
        lines.append(
            f"| {r['consumer']} | {r['mode']} | {r['records_per_sec']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['startup_seconds']:.1f} | {rounds} |"
        )
    lines.append("")
    for mode in ("polling", "fanout"):
        a, b = table.get(f"rust-{mode}"), table.get(f"kcl-{mode}")
        if a and b and b["records_per_sec"]:
            lines.append(
                f"- {a['mode']}: shardline-consumer processes **{a['records_per_sec'] / b['records_per_sec']:.1f}×** "
                f"the KCL's records/s; put → processed p50 {a['p50_ms']:.1f} ms against {b['p50_ms']:.1f} ms."
            )
    lines += ["", "![consumer records/s and latency](benchmarks-consumer.png)", ""]
    (docs / "benchmarks-consumer.md").write_text("\n".join(lines))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    labels, rates, p50s, p99s, colors = [], [], [], [], []
    for key in ORDER:
        r = table.get(key)
        if not r:
            continue
        labels.append(f"{r['consumer']}\n{r['mode']}")
        rates.append(r["records_per_sec"])
        p50s.append(r["p50_ms"] or 0)
        p99s.append(r["p99_ms"] or 0)
        colors.append("#2b6cb0" if key.startswith("rust") else "#c05621")
    ax1.bar(labels, rates, color=colors)
    ax1.set_title("records/s end to end (higher is better)")
    xs = range(len(labels))
    ax2.bar([x - 0.2 for x in xs], p50s, width=0.4, color=colors, label="p50")
    ax2.bar([x + 0.2 for x in xs], p99s, width=0.4, color=colors, alpha=0.5, label="p99")
    ax2.set_xticks(list(xs))
    ax2.set_xticklabels(labels)
    ax2.set_title("put → processed ms, p50 and p99 (lower is better)")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(docs / "benchmarks-consumer.png", dpi=110)


if __name__ == "__main__":
    main()
