"""Renders the results of ./scripts/compare into docs/benchmarks.{json,md,png}.

Usage: compare_render.py RESULTS_DIR DOCS_DIR (RESULTS_DIR is .bench/results).
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SERVERS = ["shardline-memory", "shardline-durable", "ferrokinesis", "kinesalite", "kinesis-local"]
PEERS = ["ferrokinesis", "kinesalite", "kinesis-local"]
# Workloads run at a fixed rate: compared by latency, not throughput.
PACED = {"putrecord_light"}
WORKLOADS = [
    ("putrecords", "PutRecords, 4 shards, batch 500, 100 B records, 8 connections, 10 s"),
    ("putrecord", "PutRecord, 4 shards, 100 B records, 16 connections, 5 s"),
    ("putrecord64", "PutRecord, 4 shards, 100 B records, 64 connections, 5 s"),
    ("putrecord_light", "PutRecord at light load: 200 requests/s on 1 connection, 5 s"),
    ("get", "GetRecords read-back of the PutRecords stream, every shard from TRIM_HORIZON"),
]


def load(results: Path) -> dict:
    meta = {}
    for line in (results / "meta.txt").read_text().splitlines():
        k, _, v = line.partition("=")
        meta[k] = v
    data = {"machine": meta, "servers": {}}
    install = results / "install.txt"
    data["install"] = install.read_text().strip() if install.exists() else ""
    for s in SERVERS:
        d = results / s
        if not d.exists():
            continue
        entry = {"available": not (d / "unavailable").exists(), "results": {}, "failures": {}, "commands": {}}
        for f in ("ready_ms", "ready2_ms"):
            if (d / f).exists():
                entry[f] = int((d / f).read_text().strip())
        if (d / "ready_probe_ms").exists():
            entry["ready_probe_ms"] = [int(x) for x in (d / "ready_probe_ms").read_text().split()]
        entry["rounds"] = {}
        for w in ("putrecords", "putrecord", "putrecord64", "putrecord_light", "get", "e2e"):
            runs = [json.loads(f.read_text()) for f in round_files(d, w)]
            if w == "e2e" and runs:  # round 1 only, a shape of its own
                entry["results"][w] = runs[0]
            elif runs:
                entry["results"][w] = median_run(w, runs)
                entry["rounds"][w] = [round_figure(w, r) for r in runs]
            if (d / f"{w}.cmd").exists():
                entry["commands"][w] = (d / f"{w}.cmd").read_text().strip()
        for f in sorted(d.glob("*.failed")):
            err = d / (f.stem + ".err")
            tail = err.read_text().strip().splitlines()[-3:] if err.exists() else []
            entry["failures"][f.stem] = f.read_text().strip() + (": " + " / ".join(tail) if tail else "")
        for f in ("rss", "rss_large", "restart"):
            if (d / f"{f}.json").exists():
                entry[f] = json.loads((d / f"{f}.json").read_text())
        data["servers"][s] = entry
    return data


def round_files(d: Path, work: str) -> list:
    """The workload's results in round order: work.json (round 1), work.r2.json, ..."""
    files = [d / f"{work}.json"] if (d / f"{work}.json").exists() else []
    later = [(int(f.name[len(work) + 2 : -5]), f) for f in d.glob(f"{work}.r*.json")]
    return files + [f for _, f in sorted(later)]


def round_figure(work, run):
    """What a round is ranked by: latency p50 for paced workloads, else records/s."""
    return run["latency_ms"]["p50"] if work in PACED else run["records_per_sec"]


def median_run(work, runs):
    """The median round (of an even count, the worse of the middle two), whole."""
    worse_first = sorted(runs, key=lambda r: round_figure(work, r), reverse=work in PACED)
    return worse_first[(len(runs) - 1) // 2]


def fmt(x, digits=0):
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def metric(data, server, work, key):
    r = data["servers"].get(server, {}).get("results", {}).get(work)
    if not r:
        return None
    if key.startswith("lat."):
        return r["latency_ms"][key[4:]]
    return r.get(key)


def median_ready(data, server):
    """Median of the three empty-server starts, or None."""
    probes = data["servers"].get(server, {}).get("ready_probe_ms") or []
    return sorted(probes)[len(probes) // 2] if probes else None


def best_peer(data, work, key="records_per_sec"):
    vals = [(metric(data, p, work, key), p) for p in PEERS]
    vals = [(v, p) for v, p in vals if v]
    return max(vals) if vals else (None, None)


def render_md(data: dict) -> str:
    m = data["machine"]
    out = []
    w = out.append
    w("# Benchmarks: shardline against other Kinesis-compatible local servers")
    w("")
    w("Written by `./scripts/compare` (the whole run is that one command; rerun it to refresh this page,")
    w("`docs/benchmarks.json` and `docs/benchmarks.png`). Every number comes from one run on the machine")
    w("below; the client for every server is `shardline bench` from the same release build, signing")
    w(f"requests (SigV4) because some peers insist on a signature. The throughput and latency workloads")
    w(f"ran in {m.get('rounds', '1')} rounds, each round starting every server afresh in turn, so that the machine's")
    w("drift falls on all of them alike; the tables quote each server's median round and list every")
    w("round. A run on a busy or different machine will differ.")
    w("")
    w("## Machine and versions")
    w("")
    w("| fact | value |")
    w("|---|---|")
    for k, label in [
        ("date", "date (UTC)"),
        ("cpu", "CPU"),
        ("nproc", "`nproc`"),
        ("ram", "RAM"),
        ("kernel", "kernel"),
        ("filesystem", "repo filesystem"),
        ("tmpdir_fs", "filesystem of the durable run's --data-dir (TMPDIR)"),
        ("disks", "disks (lsblk)"),
        ("fsync_probe_start", "fdatasync of 200 B in TMPDIR, no server running, at the start"),
        ("fsync_probe_end", "the same at the end"),
        ("shardline_commit", "shardline commit"),
        ("shardline_version", "shardline"),
        ("ferrokinesis_version", "ferrokinesis (crates.io)"),
        ("kinesalite_version", "kinesalite (npm)"),
        ("kinesis-local_version", "kinesis-local (npm)"),
        ("node_version", "Node"),
        ("rustc_version", "rustc"),
    ]:
        w(f"| {label} | {m.get(k, '?')} |")
    w("")
    w("Server, client and load share the same cores: with few cores the client's own CPU use is a real")
    w("share of the machine, so absolute numbers are lower than on a server split from its client.")
    w("")
    w("## How each server was started")
    w("")
    w("Every server listens on 127.0.0.1 on a fresh port, with stream creation/deletion delays set to 0.")
    w("")
    w("| server | command |")
    w("|---|---|")
    w("| shardline-memory | `shardline serve --host 127.0.0.1 --port P --in-memory --limits off --create-delay-ms 0 --delete-delay-ms 0 --log warn` |")
    w("| shardline-durable | `shardline serve --host 127.0.0.1 --port P --data-dir $(mktemp -d) --limits off --create-delay-ms 0 --delete-delay-ms 0 --log warn` (default `--durability strict`: ack after fsync) |")
    w("| ferrokinesis | `ferrokinesis --port P --create-stream-ms 0 --delete-stream-ms 0 --update-stream-ms 0 --shard-limit 1000 --enforce-limits false --log-level warn` (in-memory; binds 0.0.0.0, hard-coded, no host option; the client uses 127.0.0.1) |")
    w("| kinesalite | `node -e \"require('kinesalite')({createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000}).listen(P, '127.0.0.1')\"` (in-memory; the CLI has no host flag, the package API does) |")
    w("| kinesis-local | `KINESIS_MOCK_PLAIN_PORT=P *_DURATION=0ms SHARD_LIMIT=1000 LOG_LEVEL=WARN node main.js` (in-memory; binds 0.0.0.0, hard-coded, no host option; the client uses 127.0.0.1) |")
    w("")
    if data.get("install"):
        w("Install notes: " + data["install"].replace("\n", "; "))
        w("")
    w("## Commands")
    w("")
    w("Run against each server in this order (streams are created by the runs themselves):")
    w("")
    w("```sh")
    seen = set()
    for s in SERVERS:
        for work, cmd in data["servers"].get(s, {}).get("commands", {}).items():
            if work not in seen and s.startswith("shardline-memory"):
                seen.add(work)
                w(cmd)
    w("# kinesalite (no SubscribeToShard), and any server whose `--paths both` e2e run fails: e2e --paths poll")
    w("# memory: on a fresh server, repeat until 1,000,000 records are in (or the time budget runs out):")
    w("shardline bench put --stream rss --create --shards 4 --api putrecords --batch 500 --record-size 100 --records 10000 --measure-client 0s --json --endpoint <endpoint>")
    w("# then VmRSS of the server process from /proc/<pid>/status; shardline-durable goes on to 10,000,000 with")
    w("shardline bench put --stream rss --create --shards 4 --api putrecords --batch 500 --record-size 100 --records 100000 --measure-client 0s --json --endpoint <endpoint>")
    w("```")
    w("")

    # Throughput tables.
    for work, title in WORKLOADS:
        best, bp = best_peer(data, work)
        w(f"## {title}")
        w("")
        w("| server | records/s | MiB/s | requests/s | p50 ms | p99 ms | errors | vs best peer | client-bound | every round |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
        for s in SERVERS:
            e = data["servers"].get(s)
            if not e:
                continue
            r = e["results"].get(work)
            if not e["available"]:
                w(f"| {s} | not available | | | | | | | |")
                continue
            if not r:
                w(f"| {s} | failed: {e['failures'].get(work, 'no result')} | | | | | | | |")
                continue
            ratio = f"{r['records_per_sec'] / best:.2f}x" if best and work not in PACED else "—"
            errs = r.get("errors", 0) + r.get("failed_records", 0)
            cb = {True: "yes", False: "no", None: "?"}[r.get("client_bound")]
            every = " / ".join(fmt(v, 2 if work in PACED else 0) for v in e["rounds"].get(work, []))
            w(
                f"| {s} | {fmt(r['records_per_sec'])} | {fmt(r['mib_per_sec'], 1)} | {fmt(r['requests_per_sec'])} "
                f"| {fmt(r['latency_ms']['p50'], 2)} | {fmt(r['latency_ms']['p99'], 2)} | {errs} | {ratio} | {cb} | {every} |"
            )
        if bp and work not in PACED:
            w("")
            w(f"Best peer: {bp}. \"client-bound\" is the bench client's own verdict (share of its ceiling measured against an in-process mock).")
        w("")
        w(f"Each row is its server's median round ({'by p50' if work in PACED else 'by records/s'}); \"every round\" lists all rounds in order.")
        w("")

    # e2e
    w("## End-to-end latency: PutRecord at 200 records/s for 5 s, 4 shards")
    w("")
    w("| server | sent | put p50 / p99 ms | poll: received, p50 / p99 ms | subscribe: received, p50 / p99 ms |")
    w("|---|---:|---:|---:|---:|")
    for s in SERVERS:
        e = data["servers"].get(s)
        if not e or not e["available"]:
            continue
        r = e["results"].get("e2e")
        if not r:
            w(f"| {s} | failed: {e['failures'].get('e2e', 'no result')} | | | |")
            continue

        def path(p):
            if not p:
                return "not run"
            return f"{p['received']} (missing {p['missing']}), {fmt(p['latency_ms']['p50'], 2)} / {fmt(p['latency_ms']['p99'], 2)}"

        sub = path(r.get("subscribe"))
        if r.get("subscribe") is None and "e2e-both" in e["failures"]:
            sub = "failed: " + e["failures"]["e2e-both"]
        elif r.get("subscribe") is None and s == "kinesalite":
            sub = "not supported"
        w(
            f"| {s} | {r['sent']} | {fmt(r['put_latency_ms']['p50'], 2)} / {fmt(r['put_latency_ms']['p99'], 2)} "
            f"| {path(r.get('poll'))} | {sub} |"
        )
    w("")

    # RSS
    w("## Memory (RSS) after loading 1,000,000 records")
    w("")
    w("A fresh server; 100-byte records with PutRecords (batch 500) into a 4-shard stream, in chunks of")
    w("10,000, until 1,000,000 are in or the time budget runs out; then VmRSS of the server process.")
    w("The durable server then goes on, in chunks of 100,000, to 10,000,000 (its data is on disk, so")
    w("its RSS should hardly grow).")
    w("")
    w("| server | records loaded | RSS idle MiB | RSS loaded MiB | load time s |")
    w("|---|---:|---:|---:|---:|")
    for s in SERVERS:
        e = data["servers"].get(s)
        if not e or not e["available"] or "rss" not in e:
            continue
        r = e["rss"]
        w(f"| {s} | {fmt(r['records'])} | {r['idle_kib'] / 1024:.1f} | {r['loaded_kib'] / 1024:.1f} | {r['load_ms'] / 1000:.1f} |")
        large = e.get("rss_large")
        if large:
            w(f"| {s}, the same server on to {fmt(large['target'])} | {fmt(large['records'])} | — | {large['loaded_kib'] / 1024:.1f} | {large['load_ms'] / 1000:.1f} more |")
    w("")
    w("## Time to ready")
    w("")
    w("From spawning the process to its first successful ListStreams (polled every ~2 ms with curl, whose")
    w("own start-up is a few ms of each figure). Three starts of an empty server just for this, then the")
    w("starts the workload run and the memory run used (the latter right after the previous process exited).")
    w("")
    w("| server | median of 3 starts ms | the 3 starts ms | workload start ms | memory-run start ms |")
    w("|---|---:|---:|---:|---:|")
    for s in SERVERS:
        e = data["servers"].get(s)
        if not e:
            continue
        if not e["available"]:
            w(f"| {s} | not available | | | |")
            continue
        probes = e.get("ready_probe_ms") or []
        med = median_ready(data, s)
        w(f"| {s} | {med if med is not None else '—'} | {', '.join(map(str, probes)) or '—'} | {e.get('ready_ms', '—')} | {e.get('ready2_ms', '—')} |")
    w("")

    # Targets
    w("## Against the PRODUCT targets")
    w("")
    w("| target | measured | met? |")
    w("|---|---|---|")

    def row(label, val, goal, unit, higher=True, fmt_digits=0):
        if val is None:
            w(f"| {label} | not measured | — |")
            return
        ok = val >= goal if higher else val < goal
        gap = ""
        if not ok:
            gap = f" (gap: {val / goal:.2f}x of the target)" if higher else f" (gap: {val / goal:.2f}x the limit)"
        w(f"| {label} | {fmt(val, fmt_digits)} {unit}{gap} | {'yes' if ok else 'no'} |")

    row("PutRecords durable ≥ 1,000,000 records/s", metric(data, "shardline-durable", "putrecords", "records_per_sec"), 1_000_000, "records/s")
    best, bp = best_peer(data, "putrecords")
    dur = metric(data, "shardline-durable", "putrecords", "records_per_sec")
    if best and dur:
        row(f"PutRecords durable ≥ 5x best peer ({bp})", dur / best, 5, "x", fmt_digits=2)
    else:
        w("| PutRecords durable ≥ 5x best peer | not measured | — |")
    mem_get = metric(data, "shardline-memory", "get", "records_per_sec")
    dur_get = metric(data, "shardline-durable", "get", "records_per_sec")
    row("read-back ≥ 2,000,000 records/s (durable)", dur_get, 2_000_000, "records/s")
    row("read-back ≥ 2,000,000 records/s (in-memory)", mem_get, 2_000_000, "records/s")
    for work, conns in (("putrecord64", 64), ("putrecord", 16)):
        row(f"PutRecord ≥ 50,000 requests/s (durable, {conns} connections)", metric(data, "shardline-durable", work, "requests_per_sec"), 50_000, "requests/s")
    row("PutRecord at 200/s: p50 ≤ 0.5 ms (durable)", metric(data, "shardline-durable", "putrecord_light", "lat.p50"), 0.5, "ms", higher=False, fmt_digits=2)
    row("PutRecord at 200/s: p99 ≤ 2 ms (durable)", metric(data, "shardline-durable", "putrecord_light", "lat.p99"), 2, "ms", higher=False, fmt_digits=2)
    e2e = data["servers"].get("shardline-durable", {}).get("results", {}).get("e2e") or {}
    for path, label in (("poll", "put → GetRecords"), ("subscribe", "put → SubscribeToShard")):
        p = e2e.get(path)
        lat = p["latency_ms"] if p else {}
        row(f"{label}: p50 < 2 ms (durable)", lat.get("p50"), 2, "ms", higher=False, fmt_digits=2)
        row(f"{label}: p99 < 10 ms (durable)", lat.get("p99"), 10, "ms", higher=False, fmt_digits=2)
    r = data["servers"].get("shardline-durable", {}).get("rss")
    if r and r["records"] >= r["target"]:
        row("RSS < 64 MB after 1M records (durable)", r["loaded_kib"] * 1024 / 1e6, 64, "MB", higher=False, fmt_digits=1)
    else:
        w("| RSS < 64 MB after 1M records (durable) | not measured | — |")
    r = data["servers"].get("shardline-durable", {}).get("rss_large")
    if r and r["records"] >= r["target"]:
        row(f"RSS < 150 MB after {r['target'] / 1e6:.0f}M records (durable)", r["loaded_kib"] * 1024 / 1e6, 150, "MB", higher=False, fmt_digits=1)
    else:
        w("| RSS < 150 MB after 10M records (durable) | not measured | — |")
    for s in ("shardline-durable", "shardline-memory"):
        row(f"ready < 100 ms ({s}, median of 3 starts)", median_ready(data, s), 100, "ms", higher=False)
    rs = data["servers"].get("shardline-durable", {}).get("restart")
    if rs:
        gib = rs["segment_bytes"] / 2**30
        for key, how in (("after_kill9_ms", "after kill -9"), ("after_clean_stop_ms", "after a clean stop")):
            row(f"restart over {gib:.2f} GiB of segments < 2 s ({how})", rs.get(key), 2000, "ms", higher=False)
    else:
        w("| restart over 1 GB < 2 s | not measured | — |")
    for s, like in (("shardline-memory", " (like for like: every peer keeps its data in memory)"), ("shardline-durable", "")):
        behind = []
        for work, _ in WORKLOADS:
            if work in PACED:  # lower p50 is better
                vals = [(metric(data, p, work, "lat.p50"), p) for p in PEERS]
                vals = [(v, p) for v, p in vals if v]
                ours = metric(data, s, work, "lat.p50")
                if vals and ours and ours >= min(vals)[0]:
                    behind.append(f"{work} (p50 {ours:.2f} vs {min(vals)[0]:.2f} ms, {min(vals)[1]})")
                continue
            best, bp = best_peer(data, work)
            ours = metric(data, s, work, "records_per_sec")
            if best and ours and ours <= best:
                behind.append(f"{work} ({ours / best:.2f}x {bp})")
        verdict = "behind on " + ", ".join(behind) if behind else "ahead on all"
        w(f"| {s} ahead of every peer on every workload{like} | {verdict} | {'no' if behind else 'yes'} |")
    w("")
    w("A target met or missed by a small margin is within run-to-run noise (throughput on a shared")
    w("machine varies by 20% or more between runs); rerun before drawing conclusions from it. The RSS")
    w("target is the durable server's: in memory, RSS grows with the records held, by design.")
    w("")
    w("Caveat for every throughput target: the client shares this machine's cores with the server; the")
    w("\"client-bound\" column above says whether a run was limited by the client rather than the server.")
    w("")

    failures = [(s, k, v) for s, e in data["servers"].items() for k, v in e["failures"].items()]
    unavailable = [s for s, e in data["servers"].items() if not e["available"]]
    if failures or unavailable:
        w("## Failures in this run")
        w("")
        for s in unavailable:
            w(f"- {s}: could not be installed or started.")
        for s, k, v in failures:
            w(f"- {s}, {k}: {v}")
        w("")
    rs = data["servers"].get("shardline-durable", {}).get("restart")
    if rs:
        w("## Restart over data (shardline-durable)")
        w("")
        w("The segments grown to the size below with 1 KB records (PutRecords, batch 500), then the server")
        w("killed with SIGKILL and started again (the journal is replayed), then stopped cleanly and started")
        w("again. Time from spawn to the first successful ListStreams.")
        w("")
        w("| segment data | journal directory at the kill (with spare files) | start after kill -9 | start after clean stop |")
        w("|---:|---:|---:|---:|")
        w(f"| {rs['segment_bytes'] / 2**20:,.0f} MiB | {rs['journal_bytes'] / 2**20:,.0f} MiB | {rs.get('after_kill9_ms', '—')} ms | {rs.get('after_clean_stop_ms', '—')} ms |")
        w("")
    w("## Profiling")
    w("")
    notes = Path(__file__).resolve().parent.parent / "docs" / "profiling.md"
    if notes.exists():
        w(f"Not taken by this script (`perf`: {m.get('perf', '?')}); written by hand from the profiles in")
        w("[docs/profiling.md](profiling.md), which says how they were taken. In short:")
        w("")
        summary = notes.read_text().split("<!-- summary -->")
        if len(summary) >= 3:
            w(summary[1].strip())
            w("")
    else:
        w(f"No profile was taken in this run (`perf`: {m.get('perf', '?')}); the comparison only measures.")
        w("")
    w("![throughput chart](benchmarks.png)")
    w("")
    return "\n".join(out)


def render_png(data: dict, path: Path):
    works = [("putrecords", "PutRecords records/s"), ("putrecord64", "PutRecord requests/s, 64 connections"), ("get", "GetRecords records/s")]
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.5))
    colors = {"shardline-memory": "#1f77b4", "shardline-durable": "#17becf", "ferrokinesis": "#ff7f0e", "kinesalite": "#2ca02c", "kinesis-local": "#d62728"}
    for ax, (work, label) in zip(axes, works):
        # PutRecord moves one record per request; PutRecords is charted by records.
        key = "requests_per_sec" if work in ("putrecord", "putrecord64") else "records_per_sec"
        names, vals = [], []
        for s in SERVERS:
            v = metric(data, s, work, key)
            names.append(s)
            vals.append(v or 0)
        bars = ax.bar(names, vals, color=[colors[n] for n in names])
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, v, f"{v:,.0f}" if v else "n/a", ha="center", va="bottom", fontsize=7)
        ax.set_title(label, fontsize=10)
        ax.tick_params(axis="x", rotation=35, labelsize=8)
    ax = axes[3]
    names, vals = [], []
    for s in SERVERS:
        r = data["servers"].get(s, {}).get("rss")
        names.append(s)
        vals.append(r["loaded_kib"] / 1024 if r else 0)
    bars = ax.bar(names, vals, color=[colors[n] for n in names])
    for s, b, v in zip(names, bars, vals):
        r = data["servers"].get(s, {}).get("rss")
        note = f"{v:,.0f}" if v else "n/a"
        if r and r["records"] < r["target"]:
            note += f"\n({r['records'] // 1000}k rec)"
        ax.text(b.get_x() + b.get_width() / 2, v, note, ha="center", va="bottom", fontsize=7)
    ax.set_title("RSS MiB after 1M records (lower is better)", fontsize=10)
    ax.tick_params(axis="x", rotation=35, labelsize=8)
    fig.suptitle(f"shardline bench, {data['machine'].get('nproc')} CPUs, {data['machine'].get('date')}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    results, docs = Path(sys.argv[1]), Path(sys.argv[2])
    data = load(results)
    (docs / "benchmarks.json").write_text(json.dumps(data, indent=2) + "\n")
    (docs / "benchmarks.md").write_text(render_md(data))
    render_png(data, docs / "benchmarks.png")


if __name__ == "__main__":
    main()
