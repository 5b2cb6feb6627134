// alerts.test.mjs - the chart's PrometheusRule: off by default; rendered, its rules pass
// `promtool check rules`, every alert has a unit test in alerts.test.yaml and `promtool test
// rules` passes them; thresholds and labels come from the values; the dashboards carry the
// TimescaleDB panels on series tspool exposes.
// SPDX-License-Identifier: MIT
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import YAML from "yaml";
import { CHART_DIR, HERE, SOURCE_DIR, findDoc, render } from "./lib.mjs";

function mustRender(opts) {
    const r = render(opts);
    assert.ok(r.ok, `render failed (${r.args.join(" ")}):\n${r.stderr}`);
    return r;
}

/* The rendered rule groups of values (merged over prometheusRule.enabled = true). */
function groups(values = {}) {
    const r = mustRender({ values: [{ prometheusRule: { enabled: true, ...values } }] });
    return findDoc(r.docs, "PrometheusRule").spec.groups;
}

function promtool(args, cwd) {
    const res = spawnSync("promtool", args, { cwd, encoding: "utf8" });
    if (res.error) {
        throw new Error(`promtool cannot run (install Debian's prometheus: scripts/install-deps.sh): ${res.error.message}`);
    }
    return res;
}

/* A directory holding rules.yaml (the default rendering) and the unit tests beside it. */
function rulesDir(values) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-alerts-"));
    fs.writeFileSync(path.join(dir, "rules.yaml"), YAML.stringify({ groups: groups(values) }));
    fs.copyFileSync(path.join(HERE, "alerts.test.yaml"), path.join(dir, "alerts.test.yaml"));
    return dir;
}

const alertNames = (gs) => gs.flatMap((g) => g.rules.map((r) => r.alert));

describe("PrometheusRule", () => {
    test("off by default", () => {
        const r = mustRender({});
        assert.equal(r.docs.filter((d) => d.kind === "PrometheusRule").length, 0);
    });

    test("the rendered rules pass promtool check rules", () => {
        const dir = rulesDir();
        const res = promtool(["check", "rules", "rules.yaml"], dir);
        assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
        assert.match(res.stdout, /SUCCESS: 10 rules found/);
    });

    test("every alert fires in its promtool unit test, and stays quiet below its threshold", () => {
        const dir = rulesDir();
        const tests = YAML.parse(fs.readFileSync(path.join(HERE, "alerts.test.yaml"), "utf8")).tests;
        const tested = new Set(tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
        for (const name of alertNames(groups())) {
            assert.ok(tested.has(name), `${name} has no firing case in tests/helm/alerts.test.yaml`);
        }
        const res = promtool(["test", "rules", "alerts.test.yaml"], dir);
        assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
    });

    test("the alerts a platform team pages or tickets on, on series tspool exposes", () => {
        const gs = groups();
        assert.deepEqual(alertNames(gs).sort(), [
            "TspoolBackgroundWorkersExhausted",
            "TspoolBorrowTimeouts",
            "TspoolChunksNotCompressed",
            "TspoolConnectionHeadroomLow",
            "TspoolConnectionLeaks",
            "TspoolContinuousAggregateLagging",
            "TspoolDatabaseDown",
            "TspoolPoolExhausted",
            "TspoolTimescaleJobFailing",
            "TspoolTimescaleSnapshotFailing",
        ]);
        // every series an alert reads is one the service renders
        const sources = ["service/metrics/metrics.c", "service/timescale/snapshot.c"].map((f) => fs.readFileSync(path.join(SOURCE_DIR, f), "utf8")).join("\n");
        for (const rule of gs.flatMap((g) => g.rules)) {
            for (const series of rule.expr.match(/tspool_[a-z_]+/g)) {
                assert.ok(sources.includes(`"${series}`), `${rule.alert} reads ${series}, which tspool does not expose`);
            }
        }
        const sev = Object.fromEntries(gs.flatMap((g) => g.rules.map((r) => [r.alert, r.labels.severity])));
        assert.equal(sev.TspoolDatabaseDown, "critical");
        assert.equal(sev.TspoolPoolExhausted, "critical");
        assert.equal(sev.TspoolTimescaleJobFailing, "warning");
    });

    test("thresholds, severities and labels are values", () => {
        const gs = groups({
            jobConsecutiveFailures: 7,
            aggregateLagSeconds: 600,
            borrowTimeoutsPerSecond: 0.5,
            headroomBelow: 5,
            overdueChunks: 2,
            overdueChunksFor: "3h",
            poolExhaustedFor: "1m",
            databaseDownFor: "30s",
            pageSeverity: "page",
            ticketSeverity: "ticket",
            alertLabels: { team: "db" },
            labels: { release: "prom" },
        });
        const rule = (name) => gs.flatMap((g) => g.rules).find((r) => r.alert === name);
        assert.equal(rule("TspoolTimescaleJobFailing").expr, "max without (instance, pod) (tspool_timescaledb_job_consecutive_failures) >= 7");
        assert.equal(rule("TspoolContinuousAggregateLagging").expr, "min without (instance, pod) (tspool_timescaledb_continuous_aggregate_watermark_lag_seconds) > 600");
        assert.equal(rule("TspoolBorrowTimeouts").expr, "rate(tspool_pool_borrow_timeouts_total[5m]) > 0.5");
        assert.equal(rule("TspoolConnectionHeadroomLow").expr, "tspool_db_connection_headroom < 5");
        assert.equal(rule("TspoolChunksNotCompressed").expr, "min without (instance, pod) (tspool_timescaledb_hypertable_uncompressed_overdue_chunks) > 2");
        assert.equal(rule("TspoolChunksNotCompressed").for, "3h");
        assert.equal(rule("TspoolPoolExhausted").for, "1m");
        assert.equal(rule("TspoolDatabaseDown").for, "30s");
        assert.deepEqual(rule("TspoolDatabaseDown").labels, { severity: "page", team: "db" });
        assert.deepEqual(rule("TspoolTimescaleJobFailing").labels, { severity: "ticket", team: "db" });
        const r = mustRender({ values: [{ prometheusRule: { enabled: true, labels: { release: "prom" } } }] });
        assert.equal(findDoc(r.docs, "PrometheusRule").metadata.labels.release, "prom");
    });

    test("a bad threshold is refused by the values schema", () => {
        const r = render({ values: [{ prometheusRule: { enabled: true, jobConsecutiveFailures: 0 } }] });
        assert.ok(!r.ok);
        assert.match(r.stderr, /jobConsecutiveFailures/);
    });
});

describe("Grafana dashboard", () => {
    test("has the TimescaleDB panels, on series tspool exposes", () => {
        const dash = JSON.parse(fs.readFileSync(path.join(CHART_DIR, "dashboards/tspool.json"), "utf8"));
        const exprs = dash.panels.flatMap((p) => (p.targets || []).map((t) => t.expr));
        for (const series of [
            "tspool_timescaledb_job_consecutive_failures",
            "tspool_timescaledb_job_failures_total",
            "tspool_timescaledb_continuous_aggregate_watermark_lag_seconds",
            "tspool_timescaledb_hypertable_uncompressed_overdue_chunks",
            "tspool_timescaledb_hypertable_before_compression_bytes",
            "tspool_timescaledb_jobs_scheduled",
        ]) {
            assert.ok(exprs.some((e) => e.includes(series)), `no panel shows ${series}`);
        }
        const sources = fs.readFileSync(path.join(SOURCE_DIR, "service/timescale/snapshot.c"), "utf8");
        for (const e of exprs.filter((x) => x.includes("tspool_timescaledb_"))) {
            for (const series of e.match(/tspool_timescaledb_[a-z_]+/g)) {
                assert.ok(sources.includes(`"${series}`), `a panel reads ${series}, which tspool does not expose`);
            }
        }
    });
});
