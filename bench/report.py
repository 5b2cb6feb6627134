#!/usr/bin/env python3
# report.py - turn one `make bench` run (results.jsonl, notes, commands, configs in the run's
# temporary directory) into bench/results/latest.md, latest.jsonl and the scale chart.
# SPDX-License-Identifier: MIT
"""usage: report.py --work DIR --out DIR

Every figure in the Markdown comes from DIR/results.jsonl; ratios are computed here, in one
place, against the targets of the benchmark issue. A comparison whose side is missing is
reported as "n/a" with the reason from DIR/notes.jsonl, never silently dropped."""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALE_CONNS = [1, 8, 64, 256, 1024]
POOL_SIZES = [1, 4, 16, 64]


def top_symbols(profile, n=4):
    """The first n user-space symbols of a bench-profile.sh self-time section, with their share."""
    out = []
    for line in profile.splitlines():
        m = re.match(r"\s+([0-9.]+)%\s+(\S+)\s+\[\.\]\s+(\S+)", line)
        if m:
            out.append(f"`{m.group(3)}` {m.group(1)}%")
        if len(out) == n or line.startswith("# inclusive"):
            break
    return out


def config_lines(text):
    """GET /config as `NAME=value  (source)` lines; the raw text if it is not the expected JSON."""
    try:
        doc = json.loads(text)
        return "\n".join(f"{v['name']}={v['value']}  ({v.get('source', '?')})" for v in doc["variables"])
    except (ValueError, KeyError, TypeError):
        return text


def load_jsonl(path):
    rows = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    return rows


def read(path, default=""):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return default


def num(v):
    """Numbers may arrive as JSON numbers or as strings (shell-added fields)."""
    if v is None or v == "":
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt_rps(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_ms(us):
    if us is None:
        return "—"
    ms = us / 1000.0
    if ms < 10:
        return f"{ms:.2f}"
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def fmt_mb(kb):
    return "—" if kb is None else f"{kb / 1024.0:.1f}"


def errors_of(r):
    if r.get("tool") == "conncheck":
        keys = ["errors", "timeouts", "status_other"]
    else:
        keys = ["err_connect", "err_read", "err_write", "err_status", "err_timeout"]
    return int(sum(num(r.get(k)) or 0 for k in keys))


class Report:
    def __init__(self, work):
        self.work = work
        self.rows = {}
        for r in load_jsonl(os.path.join(work, "results.jsonl")):
            # repeated runs of one id (alternating head-to-head runs): keep the fastest, which is
            # the one the shared machine disturbed least, and remember all of them
            prev = self.rows.get(r["id"])
            if prev is not None and num(r.get("rps")) is not None:
                runs = prev.get("rps_runs", [num(prev.get("rps"))]) + [num(r["rps"])]
                if num(r["rps"]) <= (num(prev.get("rps")) or 0):
                    r = prev
                r = dict(r, rps_runs=runs)
            self.rows[r["id"]] = r
        self.notes = load_jsonl(os.path.join(work, "notes.jsonl"))
        self.meta = json.loads(read(os.path.join(work, "meta.json"), "{}") or "{}")
        self.bodies = json.loads(read(os.path.join(work, "bodies.json"), "{}") or "{}")
        self.out = []
        self.verdicts = []  # (name, PASS/MISS/n/a, detail)
        self.close_delimited = False  # a runs table needs the footnote on close-delimited bodies

    def r(self, rid):
        return self.rows.get(rid)

    def val(self, rid, key):
        row = self.rows.get(rid)
        return None if row is None else num(row.get(key))

    def why_missing(self, *words):
        """The recorded reason a peer or run is missing, if any."""
        for n in self.notes:
            if n["kind"] == "skip" and any(w.lower() in n["text"].lower() for w in words):
                return n["text"]
        return "not measured in this run"

    def w(self, line=""):
        self.out.append(line)

    # ------------------------------------------------------------------ verdicts
    def ratio_check(self, name, num_id, den_id, target, key="rps", higher=True, den_words=()):
        a, b = self.val(num_id, key), self.val(den_id, key)
        if a is None or b is None or b == 0 or a == 0:
            missing = num_id if a is None else den_id
            words = ("tspool",) if "/tspool/" in missing else (den_words or (missing.split("/")[1],))
            reason = self.why_missing(*words)
            self.verdicts.append((name, "n/a", f"`{missing}` missing: {reason}"))
            return None
        ratio = a / b if higher else b / a
        ok = ratio >= target
        if higher:
            detail = f"{ratio:.2f}x (target ≥ {target:g}x)"
        else:
            detail = f"{ratio:.1f}x lower (target ≥ {target:g}x lower)"
        self.verdicts.append((name, "PASS" if ok else "MISS", detail))
        return ratio

    def verdict_table(self):
        c = self.r
        self.w("| target | tspool | reference | ratio | verdict |")
        self.w("|---|---|---|---|---|")

        def line(name, tid, rid, target, key="rps", higher=True, words=()):
            a, b = self.val(tid, key), self.val(rid, key)
            ratio = self.ratio_check(name, tid, rid, target, key, higher, words)
            fa = fmt_rps(a) if key == "rps" else fmt_ms(a) + " ms"
            fb = fmt_rps(b) if key == "rps" else fmt_ms(b) + " ms"
            v = self.verdicts[-1]
            rtxt = "—" if ratio is None else f"{ratio:.2f}x" + ("" if higher else " lower")
            goal = f"≥ {target:g}x" if higher else f"≤ 1/{target:g}"
            self.w(f"| {name} ({goal}) | {fa} | {fb} | {rtxt} | **{v[1]}** |")

        line("`/livez` keep-alive c64 vs nginx static", "g1/tspool/livez/ka64", "g1/nginx/livez/ka64", 0.8,
             words=("nginx", "tspool"))
        line("`/pool/status` keep-alive c64 vs nginx static", "g1/tspool/pool_status/ka64",
             "g1/nginx/pool_status/ka64", 0.8, words=("nginx", "tspool"))
        line("`/livez` Connection: close c64 vs nginx", "g1/tspool/livez/close64", "g1/nginx/livez/close64", 0.75,
             words=("nginx", "tspool"))
        line("`/pool/status` Connection: close c64 vs nginx", "g1/tspool/pool_status/close64",
             "g1/nginx/pool_status/close64", 0.75, words=("nginx", "tspool"))
        line("`/readyz` vs Patroni `/readiness` req/s", "g2/tspool/readyz/close64", "g2/patroni/readiness/close64",
             10, words=("patroni",))
        line("`/readyz` vs Patroni `/readiness` p99", "g2/tspool/readyz/close64", "g2/patroni/readiness/close64",
             50, key="p99_us", higher=False, words=("patroni",))
        line("`/livez` vs Patroni `/liveness` req/s", "g1/tspool/livez/close64", "g2/patroni/liveness/close64",
             10, words=("patroni",))
        line("`/livez` vs Patroni `/liveness` p99", "g1/tspool/livez/close64", "g2/patroni/liveness/close64",
             50, key="p99_us", higher=False, words=("patroni",))
        floor = self.val("g1/nginx/livez/close64", "p99_us")
        if floor is not None:
            self.w(f"| _floor on this machine: nginx static `/livez`, same pattern, p99_ | | {fmt_ms(floor)} ms | | |")
        line("`/metrics` vs postgres_exporter (c16 keep-alive)", "g1/tspool/metrics/ka16",
             "g3/exporter/metrics/ka16", 50, words=("exporter",))
        line("`/pool/ping` c64 pool 20 vs pgbench via PgBouncer pool 20", "g4/tspool/pool_ping/c64",
             "g4/pgbench/pgbouncer/c64", 1.0, words=("pgbouncer", "pgbench"))
        a, b = self.val("g4/tspool/pool_ping/c64", "rps"), self.val("g4x/pgbench/pgbouncer-pingsql/c64", "rps")
        if a is not None and b:
            self.w(f"| _for comparison: pgbench sending tspool's ping statement via PgBouncer (extended "
                   f"protocol)_ | {fmt_rps(a)} | {fmt_rps(b)} | {a / b:.2f}x | info |")

        # 1024 keep-alive clients: every one answered, no errors
        for ep in ("livez", "pool_status", "pool_ping"):
            row = c(f"c1024/tspool/{ep}")
            name = f"1024 keep-alive clients on `/{ep.replace('_', '/')}` all answered"
            if row is None:
                reason = self.why_missing("tspool", "conncheck")
                self.verdicts.append((name, "n/a", reason))
                self.w(f"| {name} | — | — | — | **n/a** |")
                continue
            starved, errs = int(num(row["starved"])), errors_of(row)
            ok = starved == 0 and errs == 0 and int(num(row.get("unanswered_at_end")) or 0) == 0
            detail = (f"{starved} of {row['connections']} got no answer during the run, {errs} errors, "
                      f"p99 {fmt_ms(num(row['p99_us']))} ms")
            self.verdicts.append((name, "PASS" if ok else "MISS", detail))
            self.w(f"| {name} | {detail} | — | — | **{'PASS' if ok else 'MISS'}** |")

        # idle RSS with 20 connections vs PgBouncer + 3 MB
        # both idle after load with 20 server connections open: PgBouncer opens its pool only
        # under load, and tspool's idle figure before load would flatter it
        t, p = self.val("mem/tspool/after", "rss_kb"), self.val("mem/pgbouncer/after", "rss_kb")
        name = "idle RSS with 20 connections ≤ PgBouncer + 3 MB (both idle after load)"
        if t is None or p is None:
            reason = self.why_missing("tspool" if t is None else "pgbouncer")
            self.verdicts.append((name, "n/a", reason))
            self.w(f"| {name} | {fmt_mb(t)} MB | {fmt_mb(p)} MB | — | **n/a** |")
        else:
            ok = t <= p + 3 * 1024
            self.verdicts.append((name, "PASS" if ok else "MISS", f"{fmt_mb(t)} MB vs {fmt_mb(p)} MB"))
            self.w(f"| {name} | {fmt_mb(t)} MB | {fmt_mb(p)} MB | {t - p:+.0f} kB | **{'PASS' if ok else 'MISS'}** |")

    def miss_analysis(self):
        """For each missed target, the figures from this run that show what limits it."""
        missed = {name for name, v, _ in self.verdicts if v == "MISS"}
        if not missed:
            return
        lines = []
        if any(n.startswith("`/pool/ping`") for n in missed):
            t = self.val("g4/tspool/pool_ping/c64", "rps")
            sel1 = self.val("g4/pgbench/pgbouncer/c64", "rps")
            same = self.val("g4x/pgbench/pgbouncer-pingsql/c64", "rps")
            if t and sel1 and same:
                lines.append(
                    f"- `/pool/ping` vs PgBouncer: pgbench through PgBouncer sending tspool's own ping statement "
                    f"(see below) with the extended protocol, as libpq's `PQexecParams` sends it, makes "
                    f"{fmt_rps(same)} TPS against {fmt_rps(sel1)} for `SELECT 1`: the statement and protocol "
                    f"alone cost {100 * (1 - same / sel1):.0f}% of the throughput. Against that statement tspool "
                    f"reaches {t / same:.2f}x; the rest is HTTP, the pool hand-off and the JSON answer "
                    f"(profile: `scripts/bench-profile.sh /pool/ping 64 ka`).")
        if any(n.startswith("1024 keep-alive") for n in missed):
            for ep in ("livez", "pool_status", "pool_ping"):
                r = self.r(f"c1024/tspool/{ep}")
                if r is None or int(num(r["starved"])) == 0:
                    continue
                never = int(num(r.get("never_answered")) or 0)
                end = ("every connection was answered in the end" if never == 0
                       else f"{never} were not answered even 10 s after the run")
                lines.append(
                    f"- 1024 clients on `/{ep.replace('_', '/')}`: {r['starved']} connections got no answer within "
                    f"{num(r['duration_s']):g} s while others got up to {r['max_per_conn']} answers; {end}. At "
                    f"{fmt_rps(num(r['rps']))} req/s a worker thread that keeps one keep-alive connection for a fixed "
                    f"number of requests holds it for a long time when each request waits for the database, so "
                    f"queued connections wait for several such turns.")
        rss = [n for n in missed if n.startswith("idle RSS")]
        if rss:
            t, p = self.r("mem/tspool/after"), self.r("mem/pgbouncer/after")
            if t and p and num(t.get("anon_kb")) is not None and num(p.get("anon_kb")) is not None:
                tmaps = {m["name"] for m in (self.r("memmap/tspool") or {}).get("maps", [])}
                pmaps = {m["name"] for m in (self.r("memmap/pgbouncer") or {}).get("maps", [])}
                extra = sorted(m for m in tmaps - pmaps if not m.startswith("["))
                lines.append(
                    f"- idle RSS: tspool {fmt_mb(num(t['rss_kb']))} MB = {fmt_mb(num(t['anon_kb']))} MB anonymous "
                    f"({t.get('threads', '?')} threads: stacks, per-thread buffers and malloc arenas) + "
                    f"{fmt_mb(num(t['file_kb']))} MB of library pages; PgBouncer {fmt_mb(num(p['rss_kb']))} MB = "
                    f"{fmt_mb(num(p['anon_kb']))} MB anonymous ({p.get('threads', '?')} threads) + "
                    f"{fmt_mb(num(p['file_kb']))} MB of library pages. Libraries among the largest mappings of tspool "
                    f"but not of PgBouncer: {', '.join(extra) or '—'} (libpq brings Kerberos, LDAP and GnuTLS). "
                    f"Library pages are shared with every other process that maps them; RSS counts them in full.")
        if any("Patroni" in n and "p99" in n for n in missed):
            floor = self.val("g1/nginx/livez/close64", "p99_us")
            if floor is not None:
                lines.append(
                    f"- probe p99 vs Patroni: nginx serving a static file in the same pattern has p99 "
                    f"{fmt_ms(floor)} ms on this machine (load generator on the same CPUs); tspool's p99 cannot "
                    f"go far below that floor, so the ratio depends on how slow Patroni was in this run.")
        if any("Patroni" in n and "req/s" in n for n in missed):
            ceiling = self.val("g1/nginx/livez/close64", "rps")
            if ceiling is not None:
                lines.append(
                    f"- probe req/s vs Patroni: with `Connection: close` this machine serves at most about "
                    f"{fmt_rps(ceiling)} req/s even from nginx (a TCP handshake per request, load generator on the "
                    f"same CPUs), and tspool is at that level; the ratio then moves with Patroni's own rate, "
                    f"which varies a lot from run to run.")
        for ep in ("livez", "pool_status"):
            if not any(f"`/{ep.replace('_', '/')}`" in n and "nginx" in n for n in missed):
                continue
            prof = [f for f in sorted(os.listdir(self.outdir))
                    if f.startswith(f"profile-{ep}-") and f.endswith(".txt")]
            text = f"- `/{ep.replace('_', '/')}` against nginx: all repetitions are listed below."
            if prof:
                top = top_symbols(read(os.path.join(self.outdir, prof[0])))
                text += (f" The profile [{prof[0]}]({prof[0]}) puts most of tspool's own time in "
                         f"{', '.join(top)}: building and formatting the response per request.")
            else:
                text += " `scripts/bench-profile.sh PATH 64 ka` shows where tspool spends its time."
            lines.append(text)
        if lines:
            self.w("## What limits the missed targets")
            self.w()
            for line in lines:
                self.w(line)
            self.w()

    # ------------------------------------------------------------------ tables
    def runs_table(self, prefix_list, title):
        rows = [r for rid, r in self.rows.items() if any(rid.startswith(p) for p in prefix_list)]
        if not rows:
            self.w(f"_No {title} runs recorded._")
            return
        self.w("| run | tool | conns | mode | req/s | p50 ms | p99 ms | max ms | errors | server count |")
        self.w("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            server = "—"
            if r.get("server_delta") is not None:
                delta, got = int(num(r["server_delta"])), int(num(r.get("requests")) or 0)
                conns = int(num(r.get("conns")) or 0)
                ok = got <= delta <= got + conns + 1
                server = f"{delta:,} {'✓' if ok else '✗ (wrk ' + format(got, ',') + ')'}"
            errs = str(errors_of(r))
            if (r.get("tool") == "wrk" and r.get("mode") == "close" and num(r.get("requests"))
                    and abs(num(r.get("err_read")) - num(r.get("requests"))) <= (num(r.get("conns")) or 0)):
                errs += " ¹"
                self.close_delimited = True
            rps = fmt_rps(num(r.get("rps")))
            if len(r.get("rps_runs", [])) > 1:
                rps += " (" + " / ".join(fmt_rps(x) for x in r["rps_runs"]) + ")"
            self.w(f"| `{r['id']}` | {r.get('tool', '')} | {r.get('conns', '')} | {r.get('mode', '')} | "
                   f"{rps} | {fmt_ms(num(r.get('p50_us')))} | "
                   f"{fmt_ms(num(r.get('p99_us')))} | {fmt_ms(num(r.get('max_us')))} | {errs} | {server} |")
        if self.close_delimited:
            self.w()
            self.w("¹ about one wrk read error per response: wrk counts the complete response, then counts "
                   "the server's close of the connection as a read error when the response did not announce it "
                   "(Patroni answers HTTP/1.0 with the body delimited by the close; a `Connection: close` "
                   "response header avoids it). The conncheck rows count the same pattern by status code.")
            self.close_delimited = False

    def scale(self, outdir):
        self.w("| connections | `/pool/status` req/s | p99 ms | `/pool/ping` req/s | p99 ms | nginx static req/s | p99 ms |")
        self.w("|---|---|---|---|---|---|---|")
        data = []
        for c in SCALE_CONNS:
            vals = []
            for rid in (f"scale/tspool/pool_status/c{c}", f"scale/tspool/pool_ping/c{c}",
                        f"scale/nginx/pool_status/c{c}"):
                vals += [self.val(rid, "rps"), self.val(rid, "p99_us")]
            data.append((c, vals))
            cells = [fmt_rps(vals[i]) if i % 2 == 0 else fmt_ms(vals[i]) for i in range(6)]
            self.w(f"| {c} | " + " | ".join(cells) + " |")
        self.w()
        self.w("`/pool/ping` at 64 connections by pool size (DB_MAX_CONNS = DB_MIN_CONNS, no overflow):")
        self.w()
        self.w("| pool size | req/s | p50 ms | p99 ms | errors |")
        self.w("|---|---|---|---|---|")
        pool = []
        for p in POOL_SIZES:
            row = self.r(f"poolsize/tspool/pool_ping/p{p}")
            pool.append((p, self.val(f"poolsize/tspool/pool_ping/p{p}", "rps"),
                         self.val(f"poolsize/tspool/pool_ping/p{p}", "p99_us")))
            if row is None:
                self.w(f"| {p} | — | — | — | — |")
            else:
                self.w(f"| {p} | {fmt_rps(num(row['rps']))} | {fmt_ms(num(row['p50_us']))} | "
                       f"{fmt_ms(num(row['p99_us']))} | {errors_of(row)} |")
        return self.chart(outdir, data, pool)

    def chart(self, outdir, data, pool):
        if shutil.which("gnuplot") is None:
            return "gnuplot not installed: no chart"
        dat = os.path.join(self.work, "scale.dat")
        pdat = os.path.join(self.work, "pool.dat")

        def cell(v, div=1.0):
            return "NaN" if v is None else f"{v / div:.3f}"

        with open(dat, "w", encoding="utf-8") as f:
            for c, v in data:
                f.write(f"{c} " + " ".join(cell(v[i], 1.0 if i % 2 == 0 else 1000.0) for i in range(6)) + "\n")
        with open(pdat, "w", encoding="utf-8") as f:
            for p, rps, p99 in pool:
                f.write(f"{p} {cell(rps)} {cell(p99, 1000.0)}\n")
        png = os.path.join(outdir, "scale.png")
        have_pool = any(rps is not None for _, rps, _ in pool)
        pool_plot = f"""unset logscale y
set xtics (1, 4, 16, 64)
set xrange [0.8:80]
set xlabel 'pool size (64 connections)'
set ylabel 'requests/s'
set y2label 'p99 latency (ms)'
set y2tics
set yrange [0:*]
set y2range [0:*]
set title '/pool/ping by pool size'
plot '{pdat}' u 1:2 w lp lw 2 pt 7 t 'req/s' axes x1y1, '' u 1:3 w lp lw 2 pt 5 dt 2 t 'p99 ms' axes x1y2
""" if have_pool else ""
        if not any(v is not None for _, vals in data for v in vals):
            return "no scale runs recorded: no chart"
        gp = f"""
set terminal pngcairo size 1500,480 font ',10'
set output '{png}'
set multiplot layout 1,{3 if have_pool else 2} title 'tspool scale curves ({self.meta.get('date', '')}, {self.meta.get('ncpu', '?')} CPUs, load generator on the same machine)'
set logscale x 2
set xtics (1, 8, 64, 256, 1024)
set xrange [0.8:1300]
set grid
set key top left
set xlabel 'concurrent keep-alive connections'
set ylabel 'requests/s'
set yrange [0:*]
set title 'throughput'
plot '{dat}' u 1:2 w lp lw 2 pt 7 t '/pool/status', '' u 1:4 w lp lw 2 pt 5 t '/pool/ping (pool 20)', '' u 1:6 w lp lw 2 pt 9 dt 2 t 'nginx static copy'
set logscale y 10
set yrange [*:*]
set ylabel 'p99 latency (ms)'
set title 'p99 latency'
plot '{dat}' u 1:3 w lp lw 2 pt 7 t '/pool/status', '' u 1:5 w lp lw 2 pt 5 t '/pool/ping (pool 20)', '' u 1:7 w lp lw 2 pt 9 dt 2 t 'nginx static copy'
{pool_plot}unset multiplot
"""
        gpf = os.path.join(self.work, "scale.gp")
        with open(gpf, "w", encoding="utf-8") as f:
            f.write(gp)
        res = subprocess.run(["gnuplot", gpf], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            return "gnuplot failed: " + res.stderr.strip().splitlines()[-1]
        return None

    def memory(self):
        self.w("| process | state | RSS MB | of which anonymous MB | of which file (libraries) MB | "
               "peak (VmHWM) MB | threads | database connections |")
        self.w("|---|---|---|---|---|---|---|---|")
        for rid, label, state in (("mem/tspool/idle", "tspool", "idle, warm pool, before load"),
                                  ("mem/tspool/after", "tspool", "idle after all load runs (peak = highest under load)"),
                                  ("mem/pgbouncer/idle", "PgBouncer 1.18", "idle, pool filled"),
                                  ("mem/pgbouncer/after", "PgBouncer 1.18", "idle after pgbench c64 (peak = under load)"),
                                  ("mem/nginx/after", "nginx (master + workers)", "after load"),
                                  ("mem/patroni", "Patroni (REST + HA loop, without its PostgreSQL)", "after load"),
                                  ("mem/exporter", "postgres_exporter", "after load")):
            row = self.r(rid)
            if row is None:
                continue
            self.w(f"| {label} | {state} | {fmt_mb(num(row.get('rss_kb')))} | {fmt_mb(num(row.get('anon_kb')))} | "
                   f"{fmt_mb(num(row.get('file_kb')))} | {fmt_mb(num(row.get('hwm_kb')))} | "
                   f"{row.get('threads') or '—'} | {row.get('backends', '—')} |")

    def memory_maps(self):
        t, p = self.r("memmap/tspool"), self.r("memmap/pgbouncer")
        if t is None and p is None:
            return
        self.w()
        self.w("Resident memory by mapping (from `/proc/PID/smaps`, idle after load, largest first):")
        self.w()
        self.w("| tspool mapping | RSS kB | PgBouncer mapping | RSS kB |")
        self.w("|---|---|---|---|")
        tm, pm = (t or {}).get("maps", []), (p or {}).get("maps", [])
        for i in range(max(len(tm), len(pm))):
            a = tm[i] if i < len(tm) else {"name": "", "rss_kb": ""}
            b = pm[i] if i < len(pm) else {"name": "", "rss_kb": ""}
            self.w(f"| {a['name']} | {a['rss_kb']} | {b['name']} | {b['rss_kb']} |")

    def conncheck(self, prefixes=("c1024/",)):
        rows = [r for rid, r in self.rows.items() if rid.startswith(tuple(prefixes))]
        if not rows:
            self.w("_Not run._ " + self.why_missing("tspool", "conncheck"))
            return
        self.w("| run | connections | responses | req/s | p50 ms | p99 ms | no answer during the run | "
               "no answer at all | min / max per connection | errors | non-2xx |")
        self.w("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            self.w(f"| `{r['id']}` | {r['connections']} | {int(num(r['responses'])):,} | {fmt_rps(num(r['rps']))} | "
                   f"{fmt_ms(num(r['p50_us']))} | {fmt_ms(num(r['p99_us']))} | **{r['starved']}** | "
                   f"{r.get('never_answered', '—')} | {r['min_per_conn']} / {r['max_per_conn']} | "
                   f"{int(num(r['errors'])) + int(num(r['timeouts']))} | {r['status_other']} |")
        self.w()
        self.w("\"No answer during the run\": connections that received no complete response within the "
               "run's duration; \"no answer at all\": not even in the 10 s allowed afterwards for requests "
               "in flight. Latencies start before `connect()` and include those late answers.")

    def build(self, outdir):
        self.outdir = outdir
        m = self.meta
        v = m.get("versions", {})
        self.w("# tspool benchmark results")
        self.w()
        self.w("Generated by `make bench` (scripts/bench.sh). Every peer ran on 127.0.0.1 on the same "
               "machine as the load generator, one after another, in one run. Absolute numbers on a shared "
               "machine are noise; the ratios between tools measured back to back are the result.")
        self.w()
        self.w(f"- date: {m.get('date', '?')}, commit `{m.get('commit', '?')}`"
               + (f" (+{m['dirty']} uncommitted changes)" if m.get("dirty") not in (None, "", "0") else ""))
        self.w(f"- machine: {m.get('cpu', '?')}, {m.get('ncpu', '?')} CPUs, {m.get('mem', '?')}, "
               f"{m.get('kernel', '?')}; 1-minute load average before the run {m.get('load_start', '?')}, "
               f"at the end {m.get('load', '?')} (other work on this shared machine ran alongside)")
        self.w(f"- each run: {m.get('duration_s', '?')} s, wrk -t{m.get('wrk_threads', '?')} (-t1 for one "
               f"connection), `--timeout 10s`; whole suite {m.get('elapsed_s', '?')} s")
        self.w(f"- head-to-head runs (comparisons 1 and 4) alternate the two sides {m.get('reps', '?')} times; "
               "each side's fastest run is used and all are listed as \"req/s (run 1 / run 2 …)\"")
        b = self.bodies
        if b:
            src = ("byte-for-byte copies of tspool's own responses" if b.get("source") == "tspool"
                   else "stand-in bodies from bench/fixtures (tspool did not run)")
            self.w(f"- nginx serves {src}: `/livez` {b.get('livez')} B, `/pool/status` "
                   f"{b.get('pool_status')} B, `/metrics` {b.get('metrics')} B")
        for n in self.notes:
            if n["kind"] != "skip":
                self.w(f"- **note:** {n['text']}")
        self.w()
        self.w("## Targets")
        self.w()
        self.verdict_table()
        self.w()
        self.miss_analysis()
        skips = [n for n in self.notes if n["kind"] == "skip"]
        if skips:
            self.w("## Not measured, and why")
            self.w()
            for n in skips:
                self.w(f"- {n['text']}")
            self.w()
        self.w("## Scale curves")
        self.w()
        self.w("![scale curves](scale.png)")
        self.w()
        chart_err = self.scale(outdir)
        if chart_err:
            self.w()
            self.w(f"_Chart: {chart_err}_")
        self.w()
        self.w("## Every connection served")
        self.w()
        self.w("wrk reports totals only: a connection the server never answers does not show. "
               "`bench/http/conncheck` keeps N keep-alive connections busy for the run's duration, counts "
               "the responses on each and reports those that got none. For every wrk run against tspool the \"server count\" column "
               "compares wrk's total with tspool's own `tspool_http_requests_total` (✓ when the server "
               "counted at least wrk's total and at most that plus the connections in flight).")
        self.w()
        self.conncheck()
        self.w()
        self.w("## All runs")
        self.w()
        self.w("### 1. `/livez`, `/pool/status`, `/metrics` vs nginx serving the same bytes")
        self.w()
        self.runs_table(["g1/"], "comparison 1")
        self.w()
        self.w("### 2. Probes vs Patroni REST (Connection: close, c64)")
        self.w()
        self.runs_table(["g2/"], "comparison 2")
        self.w()
        self.w("wrk starts its latency clock when the request is written, after the connection is set up. "
               "A probe pays for the connect too, so conncheck repeats the pattern with the clock started "
               "before `connect()` (a connection refused or dropped in the listen backlog shows up here):")
        self.w()
        self.conncheck(["g2c/"])
        self.w()
        self.w("### 3. `/metrics` vs postgres_exporter")
        self.w()
        self.runs_table(["g3/", "g1/tspool/metrics/ka16"], "comparison 3")
        self.w()
        self.w("### 4. `/pool/ping` (HTTP → pool → `SELECT 1`) vs pgbench `SELECT 1`")
        self.w()
        self.w("pgbench latency percentiles come from a 10% sample of its per-transaction log.")
        self.w()
        self.runs_table(["g4/", "g4x/"], "comparison 4")
        self.w()
        self.w("### 5. Scale runs")
        self.w()
        self.runs_table(["scale/", "poolsize/"], "scale")
        self.w()
        self.w("## Memory")
        self.w()
        self.w("From `/proc/PID/status` (VmRSS, VmHWM) of the process itself.")
        self.w()
        self.memory()
        self.memory_maps()
        self.w()
        self.w("## Start-up")
        self.w()
        st = self.r("startup/tspool")
        if st:
            self.w(f"Exec of `tspool serve` to the first `/readyz` 200 with DB_MIN_CONNS=20 (polled every 2 ms): "
                   f"median **{st['median_ms']:.1f} ms** of {', '.join(f'{x:.1f}' for x in st['runs_ms'])} ms; "
                   f"TCP backends open in PostgreSQL right after each `/readyz` 200: "
                   f"{st.get('backends_at_ready', '?')}; 2 s later: {st.get('backends_after', '?')}.")
        else:
            self.w("_Not measured._ " + self.why_missing("tspool"))
        self.w()
        self.w("## Pool micro-benchmark (`bench/pool_bench`)")
        self.w()
        pb = read(os.path.join(self.work, "pool_bench.txt")).strip()
        if pb:
            self.w("```")
            self.w(pb)
            self.w("```")
        else:
            self.w("_Not run._ " + self.why_missing("pool micro-benchmark"))
        self.w()
        profiles = sorted(f for f in os.listdir(outdir) if f.startswith("profile-") and f.endswith(".txt"))
        if profiles:
            self.w("## Profiles")
            self.w()
            self.w("Made with `scripts/bench-profile.sh PATH CONNS ka|close` (perf, Release with frame pointers); "
                   "each file starts with the date and commit it was made at.")
            self.w()
            for f in profiles:
                first = read(os.path.join(outdir, f)).splitlines()[:1]
                self.w(f"- [{f}]({f}){': ' + first[0].lstrip('# ') if first else ''}")
            self.w()
        self.w("## Versions")
        self.w()
        self.w("| component | version |")
        self.w("|---|---|")
        for k, val in v.items():
            self.w(f"| {k} | {val or '—'} |")
        self.w()
        self.w("## Exact commands")
        self.w()
        self.w("Ports are chosen free at run time; `<tmp>` is the run's temporary directory.")
        self.w()
        self.w("```sh")
        tmp = self.work
        for line in read(os.path.join(self.work, "commands.txt")).splitlines():
            self.w(line.replace(tmp, "<tmp>"))
        self.w("```")
        self.w()
        for fname, lang, title in (("nginx.conf.used", "nginx", "nginx.conf"),
                                   ("pgbouncer.ini.used", "ini", "pgbouncer.ini"),
                                   ("patroni.yml.used", "yaml", "patroni.yml"),
                                   ("pingsql.used", "sql", "tspool's ping statement, as replayed by pgbench"),
                                   ("tspool-config.json", "text", "tspool effective configuration (GET /config)")):
            text = read(os.path.join(self.work, fname)).strip()
            if not text:
                continue
            if fname == "tspool-config.json":
                text = config_lines(text)
            # throwaway passwords of the temporary clusters still do not belong in a results file
            text = re.sub(r"(password:\s*)\S+", r"\1...", text)
            self.w(f"<details><summary>{title}</summary>")
            self.w()
            self.w(f"```{lang}")
            self.w(text.replace(tmp, "<tmp>"))
            self.w("```")
            self.w()
            self.w("</details>")
            self.w()
        # no machine paths in a committed file: the repository becomes relative, the run's
        # temporary directory <tmp>
        text = "\n".join(self.out) + "\n"
        return text.replace(REPO + "/", "").replace(self.work, "<tmp>")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rep = Report(args.work)
    text = rep.build(args.out)
    with open(os.path.join(args.out, "latest.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(args.out, "latest.jsonl"), "w", encoding="utf-8") as f:
        for r in rep.rows.values():
            f.write(json.dumps(r, sort_keys=True).replace(REPO + "/", "").replace(args.work, "<tmp>") + "\n")
    for name, verdict, detail in rep.verdicts:
        print(f"{verdict:4}  {name}: {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
