// dashboard.test.mjs - the dashboard page in a real browser (Debian chromium driven by
// playwright-core) against `tspool serve` on the PostgreSQL 15 test server and, when the build
// has the TimescaleDB endpoints, the TimescaleDB test server. Prints "N passed, N failed".
// SPDX-License-Identifier: MIT
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { chromium } from "playwright-core";

import {
    APP_NAME, ARTIFACTS, PG_DIR, SOURCE_DIR, Service, Steps, devdb, freePort, pgEnv, pgQuery,
    psqlDsn, sleep, tsdb, tsdbScript, waitFor,
} from "./lib.mjs";

const CHROMIUM = process.env.TSPOOL_CHROMIUM || "/usr/bin/chromium";
const HELD = 3; // connections the test holds through /pool/ping while a lock blocks them
const LOCK_APP = "tspool_browser_lock";
const READ_TOKEN = "browser-read-token-0123456789";

function assert(cond, message) {
    if (!cond) {
        throw new Error(message);
    }
}

function assertEqual(actual, expected, what) {
    if (actual !== expected) {
        throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    }
}

const steps = new Steps();
const cleanups = [];
let context = null;

/* ---- page helpers -------------------------------------------------------------------------- */

/* A screenshot without a focus ring left over from keyboard checks. */
async function shoot(page, name) {
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

async function text(page, selector) {
    return (await page.locator(selector).first().textContent()) ?? "";
}

async function waitText(page, selector, predicate, what, timeoutMs = 20000) {
    return waitFor(what, async () => {
        const t = await text(page, selector);
        return predicate(t) ? t : false;
    }, timeoutMs, 200);
}

/* Watch a page: console errors, uncaught exceptions and every URL it requests. */
function watch(page) {
    const seen = { errors: [], requests: [] };
    page.on("console", (msg) => {
        if (msg.type() === "error") {
            seen.errors.push(`console: ${msg.text()} (${msg.location().url || "?"})`);
        }
    });
    page.on("pageerror", (err) => seen.errors.push(`pageerror: ${err.message}`));
    page.on("request", (req) => seen.requests.push(req.url()));
    return seen;
}

/* Runs in the page: sections and controls have labels, tables have headers, and visible text
 * meets WCAG AA contrast (4.5:1) against its effective background. */
function auditPage() {
    const problems = [];
    for (const s of document.querySelectorAll("section")) {
        const id = s.getAttribute("aria-labelledby");
        if (!id || !document.getElementById(id)) {
            problems.push(`section #${s.id} has no label`);
        }
    }
    for (const input of document.querySelectorAll("input, button, select, textarea")) {
        const name = input.labels && input.labels.length > 0 ? input.labels[0].textContent : input.textContent;
        if (!name || !name.trim()) {
            problems.push(`control ${input.outerHTML.slice(0, 60)} has no label`);
        }
    }
    const chart = document.getElementById("chart");
    if (chart.getAttribute("role") !== "img" || !document.getElementById(chart.getAttribute("aria-labelledby"))) {
        problems.push("the chart has no accessible name");
    }
    for (const t of document.querySelectorAll("table")) {
        if (t.querySelectorAll("thead th[scope=col]").length === 0) {
            problems.push(`table #${t.id} has no column headers`);
        }
    }
    // WCAG 2 contrast of text against its effective background
    const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
        for (let n = el; n; n = n.parentElement) {
            const c = rgb(getComputedStyle(n).backgroundColor);
            if (c.length === 3 || (c.length === 4 && c[3] > 0)) {
                return c.slice(0, 3);
            }
        }
        return [255, 255, 255];
    };
    let checked = 0;
    for (const el of document.querySelectorAll("h1, h2, h3, p, dt, dd, th, td, li, .state, a, button, label, figcaption")) {
        if (!el.offsetParent || !el.textContent.trim()) {
            continue;
        }
        const fg = lum(rgb(getComputedStyle(el).color).slice(0, 3));
        const bg = lum(background(el));
        const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        checked++;
        if (ratio < 4.5) {
            problems.push(`contrast ${ratio.toFixed(2)} for ${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 30)}"`);
        }
    }
    return { problems, checked };
}

/* ---- the TimescaleDB side ----------------------------------------------------------------- */

function parseDsn(dsn) {
    const out = {};
    for (const m of dsn.matchAll(/(\w+)=('(?:[^'\\]|\\.)*'|\S+)/g)) {
        out[m[1]] = m[2].replace(/^'(.*)'$/, "$1");
    }
    return out;
}

/* The TimescaleDB test server: TSPOOL_TEST_TSDB_DSN, else scripts/tsdb.sh (started when needed). */
function tsdbDsn() {
    if (process.env.TSPOOL_TEST_TSDB_DSN) {
        return process.env.TSPOOL_TEST_TSDB_DSN;
    }
    const dir = process.env.TSPOOL_TEST_TSDBDIR || path.join(SOURCE_DIR, ".tspool/test-tsdb");
    tsdb(dir, "start");
    return tsdb(dir, "dsn");
}

/* A hypertable with a few daily chunks, one compressed, a retention policy and a continuous
 * aggregate with its refresh policy: something for every table of the section. */
function createTimescaleFixture(dsn) {
    psqlDsn(dsn, `
        DROP MATERIALIZED VIEW IF EXISTS browser_metrics_hourly;
        DROP TABLE IF EXISTS browser_metrics CASCADE;
        CREATE TABLE browser_metrics (ts timestamptz NOT NULL, device int NOT NULL, value double precision);
        SELECT create_hypertable('browser_metrics', 'ts', chunk_time_interval => interval '1 day');
        INSERT INTO browser_metrics
            SELECT t, d, (extract(epoch FROM t)::bigint / 60) % 50 + d
            FROM generate_series(timestamptz '2026-01-01', timestamptz '2026-01-04 23:59', interval '1 minute') AS t,
                 generate_series(1, 4) AS d;
        ALTER TABLE browser_metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
        SELECT compress_chunk(c) FROM show_chunks('browser_metrics', older_than => timestamptz '2026-01-02') AS c;
        SELECT add_retention_policy('browser_metrics', interval '90 days');
        CREATE MATERIALIZED VIEW browser_metrics_hourly WITH (timescaledb.continuous) AS
            SELECT time_bucket(interval '1 hour', ts) AS bucket, device, avg(value) AS avg_value
            FROM browser_metrics GROUP BY 1, 2 WITH NO DATA;
        SELECT add_continuous_aggregate_policy('browser_metrics_hourly',
            start_offset => interval '3 days', end_offset => interval '1 hour',
            schedule_interval => interval '1 hour');`);
    return Number(psqlDsn(dsn, "SELECT count(*) FROM show_chunks('browser_metrics')"));
}

/* ---- the test ------------------------------------------------------------------------------ */

async function main() {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    assert(fs.existsSync(CHROMIUM), `${CHROMIUM} not found: apt-get install chromium (scripts/install-deps.sh)`);
    devdb("start");
    const dbEnv = pgEnv();
    const port = await freePort();
    // a warm pool: the held pings borrow open connections instead of connecting under load
    const mainEnv = { DB_MIN_CONNS: "4" };
    let service = new Service("main", port, dbEnv, mainEnv);
    cleanups.push(() => service.stop());
    await service.start();
    const origin = service.url;

    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-chromium-"));
    cleanups.push(() => fs.rmSync(profile, { recursive: true, force: true }));
    context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1280, height: 900 },
        args: [
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync",
        ],
    });
    cleanups.push(() => context.close());
    const page = context.pages()[0] ?? (await context.newPage());
    const seen = watch(page);

    await steps.run("GET / serves the page with a same-origin CSP; it renders the pool and probes without console errors", async () => {
        // the activity panel reads the sampler's snapshot, which answers 503 until the first one
        await waitFor("the first activity sample", async () => (await fetch(`${origin}/server/activity`)).status === 200, 10000);
        const res = await page.goto(`${origin}/`, { waitUntil: "load" });
        assertEqual(res.status(), 200, "status of /");
        const headers = res.headers();
        assertEqual(headers["content-type"], "text/html; charset=utf-8", "Content-Type");
        assertEqual(headers["cache-control"], "no-cache", "Cache-Control");
        assert(/^"[0-9a-f]{16}"$/.test(headers.etag || ""), `ETag ${headers.etag}`);
        assert((headers["content-security-policy"] || "").startsWith("default-src 'none'; script-src 'self'"),
            `CSP ${headers["content-security-policy"]}`);
        await waitText(page, "#g-in_use", (t) => /^\d+$/.test(t), "the in-use gauge");
        await waitText(page, "#probe-ready .state", (t) => t === "ready", "readiness 'ready'");
        await waitText(page, "#probe-live .state", (t) => t === "live", "liveness 'live'");
        await waitText(page, "#probe-startup .state", (t) => t === "started", "startup 'started'");
        await waitText(page, "#summary", (t) => t.startsWith("Ready"), "the summary 'Ready'");
        // the verbose check list is shown: readiness names its db check
        await waitText(page, "#probe-ready .checks", (t) => /db ok/.test(t), "'db ok' in the readiness checks");
        // a detailed poll fills the server's view: our own application is listed
        await waitText(page, "#apps tbody", (t) => t.includes(APP_NAME), `${APP_NAME} in the by-application table`);
        assertEqual(await page.locator("#server-stats").isVisible(), true, "server stats visible");
        const maxConns = await text(page, "#s-max_connections");
        assertEqual(maxConns, pgQuery("SHOW max_connections"), "max_connections shown");
        assertEqual(await text(page, "#g-limits"), "20 + 10", "size + overflow (defaults)");
        // the server activity panel lists our own sessions; no lock waits yet
        await waitText(page, "#sessions tbody", (t) => t.includes(APP_NAME), `${APP_NAME} in the sessions table`);
        assertEqual(await page.locator("#blocking-empty").isVisible(), true, "no blocking chains");
        await sleep(4500); // two more polls, one of them detailed
        // the one error the browser itself logs that is not the page's doing: a 409 for
        // GET /timescaledb, should the server answer "extension missing" that way
        const errors = seen.errors.filter((e) => !(e.includes("status of 409") && e.endsWith(`(${origin}/timescaledb)`)));
        assertEqual(errors.join("\n"), "", "console errors");
        const foreign = seen.requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith("data:"));
        assertEqual(foreign.join(" "), "", "requests to other origins");
        assert(seen.requests.some((u) => u === `${origin}/ui/app.js`), "app.js requested");
    });

    await steps.run("GET /ui/ serves the same page; /ui/app.js and style.css have their types; unknown files are 404", async () => {
        const ui = await fetch(`${origin}/ui/`);
        const root = await fetch(`${origin}/`);
        assertEqual(ui.status, 200, "status of /ui/");
        assertEqual(await ui.text(), await root.text(), "/ui/ body equals / body");
        const js = await fetch(`${origin}/ui/app.js`);
        assertEqual(js.headers.get("content-type"), "text/javascript; charset=utf-8", "app.js type");
        const css = await fetch(`${origin}/ui/style.css`);
        assertEqual(css.headers.get("content-type"), "text/css; charset=utf-8", "style.css type");
        const etag = css.headers.get("etag");
        const again = await fetch(`${origin}/ui/style.css`, { headers: { "If-None-Match": etag } });
        assertEqual(again.status, 304, "revalidation with the ETag");
        const missing = await fetch(`${origin}/ui/nothing.js`);
        assertEqual(missing.status, 404, "unknown asset");
        assertEqual(missing.headers.get("content-type"), "application/problem+json", "404 type");
    });

    await steps.run("accessible: labelled sections and controls, keyboard entry, AA contrast in light and dark schemes", async () => {
        for (const colorScheme of ["light", "dark"]) {
            await page.emulateMedia({ colorScheme });
            const report = await page.evaluate(auditPage);
            assert(report.checked > 40, `${colorScheme}: only ${report.checked} text elements checked`);
            assertEqual(report.problems.join("\n"), "", `${colorScheme}: accessibility problems`);
        }
        await page.emulateMedia({ colorScheme: "light" });
        await page.keyboard.press("Tab");
        const first = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
        assertEqual(first, "Skip to content", "first Tab stop");
        // scrollable tables can be reached and scrolled with the keyboard
        const focusable = await page.locator(".scroll[tabindex='0']").count();
        assert(focusable >= 5, `${focusable} keyboard-focusable table regions`);
    });

    await steps.run("readable on a narrow screen (360 px): nothing wider than the viewport", async () => {
        await page.setViewportSize({ width: 360, height: 780 });
        await sleep(600);
        const widths = await page.evaluate(() => ({
            doc: document.documentElement.scrollWidth,
            view: window.innerWidth,
            chart: document.getElementById("chart").getBoundingClientRect().width,
        }));
        assert(widths.doc <= widths.view, `page is ${widths.doc} px wide in a ${widths.view} px viewport`);
        assert(widths.chart > 250 && widths.chart <= widths.view, `chart ${widths.chart} px wide`);
        await shoot(page, "dashboard-narrow.png");
        await page.setViewportSize({ width: 1280, height: 900 });
        await sleep(300);
    });

    let tsEndpoints = false;
    await steps.run("on PostgreSQL 15 the TimescaleDB section is hidden with a note saying why", async () => {
        const spec = await (await fetch(`${origin}/openapi.yaml`)).text();
        tsEndpoints = /^ {2}\/hypertables:/m.test(spec);
        const note = await waitText(page, "#ts-note", (t) => !t.startsWith("Checking"), "the TimescaleDB note");
        if (tsEndpoints) {
            // from GET /timescaledb {"installed": false}, or the detail of a 409 problem
            assert(/(timescaledb extension|extension "?timescaledb"?) is not installed/.test(note), `note: ${note}`);
        } else {
            assertEqual(note, "This tspool build has no TimescaleDB endpoints, so there is nothing to show here.", "note");
        }
        assertEqual(await page.locator("#ts-body").isVisible(), false, "TimescaleDB tables hidden");
    });

    await steps.run(`in-use rises to ${HELD} in the gauge, chart and connection table while ${HELD} pings are held, and falls back`, async () => {
        // a session holding ACCESS EXCLUSIVE on pg_extension blocks the ping query, so each
        // /pool/ping keeps its pool connection until the lock goes
        const locker = spawn("bash", [path.join(SOURCE_DIR, "scripts/devdb.sh"), "psql", "-c",
            "BEGIN; LOCK TABLE pg_extension IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT"], {
            env: { ...process.env, TSPOOL_DEVDB_DIR: PG_DIR, PGAPPNAME: LOCK_APP },
            stdio: "ignore",
        });
        const release = () => pgQuery(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '${LOCK_APP}'`);
        cleanups.push(release);
        try {
            await waitFor("the pg_extension lock", () => pgQuery(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation " +
                "WHERE c.relname = 'pg_extension' AND l.mode = 'AccessExclusiveLock' AND l.granted") === "1", 20000);
            const pings = [];
            for (let i = 0; i < HELD; i++) {
                pings.push(fetch(`${origin}/pool/ping`).then((r) => r.status).catch((e) => String(e)));
            }
            // (other reads of pg_extension, such as the TimescaleDB capability probe, wait too)
            await waitFor(`${HELD} pings waiting on the lock`, () => Number(pgQuery(
                `SELECT count(*) FROM pg_stat_activity WHERE application_name = '${APP_NAME}' ` +
                "AND wait_event_type = 'Lock' AND query LIKE '%pg_is_in_recovery()%'")) === HELD, 20000);
            await waitText(page, "#g-in_use", (t) => Number(t) >= HELD, `in use >= ${HELD}`, 15000);
            await waitText(page, "#chart-now", (t) => /peak in use over the last 5 minutes: (\d+)/.test(t) &&
                Number(/peak in use over the last 5 minutes: (\d+)/.exec(t)[1]) >= HELD, "the chart's peak", 15000);
            // the detailed poll lists the held connections with their holder label
            await waitFor(`${HELD} connections held by 'ping' in the table`, async () =>
                (await page.locator("#conns tbody tr", { hasText: "ping" }).count()) >= HELD, 20000);
            // the activity panel shows the chain: the lock holder as the root, the pings under it
            await waitFor(`the blocking tree: ${LOCK_APP} blocking ${HELD} pings`, async () =>
                (await page.locator("#blocking-tree > li", { hasText: LOCK_APP }).count()) === 1 &&
                (await page.locator("#blocking-tree > li > ul > li", { hasText: APP_NAME }).count()) >= HELD, 20000);
            const inUseLine = await page.locator("#chart polyline[data-series='in_use']").last().getAttribute("points");
            const ys = inUseLine.trim().split(" ").map((p) => Number(p.split(",")[1]));
            assert(Math.min(...ys) < Math.max(...ys), `the in-use line rises: ${inUseLine}`);
            await shoot(page, "dashboard.png");
            release();
            const statuses = await Promise.all(pings);
            assertEqual(statuses.join(","), Array(HELD).fill(200).join(","), "ping statuses after the release");
            await waitText(page, "#g-in_use", (t) => t === "0", "in use back to 0", 15000);
        } finally {
            release();
            locker.kill();
        }
    });

    await steps.run("a stopped database shows 'not ready' with the failing check, and 'ready' again after it restarts", async () => {
        devdb("stop");
        try {
            await waitText(page, "#probe-ready .state", (t) => t === "not ready", "readiness 'not ready'", 20000);
            assertEqual(await page.locator("#probe-ready .state").getAttribute("data-state"), "failed", "data-state");
            await waitText(page, "#probe-ready .checks li.failed", (t) => t.startsWith("db failed"), "a failed db check", 10000);
            await waitText(page, "#summary", (t) => /^Not ready \((\w+, )*db(, \w+)* failing\)/.test(t), "the summary naming db", 10000);
            assertEqual(await text(page, "#probe-live .state"), "live", "liveness during the outage");
            // the server's view says why it is missing instead of showing stale figures
            await waitText(page, "#server-note", (t) => t.startsWith("The server's view is unavailable: "), "the server note", 15000);
            assertEqual(await page.locator("#server-stats").isVisible(), false, "server figures hidden");
            // screen readers hear the change once, through the polite live region
            const said = await text(page, "#announce");
            assert(/^tspool not ready: (\w+, )*db(, \w+)* failing$/.test(said), `announcement: ${said}`);
            await shoot(page, "dashboard-not-ready.png");
        } finally {
            devdb("start");
        }
        await waitText(page, "#probe-ready .state", (t) => t === "ready", "readiness back to 'ready'", 30000);
        await waitText(page, "#summary", (t) => t.startsWith("Ready"), "the summary back to 'Ready'", 10000);
    });

    await steps.run("when the service stops the page says 'service down', retries, and recovers when it is back", async () => {
        // exit 0: a clean drain, and under AddressSanitizer no leak in what the page exercised
        assertEqual(await service.stop(), 0, "exit status of tspool serve after SIGTERM");
        await waitFor("the service-down banner", async () => (await page.locator("#banner").isVisible()) &&
            (await text(page, "#banner")).startsWith("Service down: tspool is not answering"), 20000);
        assertEqual(await text(page, "#summary"), "Service down", "summary while down");
        await sleep(3000);
        service = new Service("main-restarted", port, dbEnv, mainEnv);
        await service.start();
        await waitFor("the banner to go", async () => !(await page.locator("#banner").isVisible()), 40000);
        await waitText(page, "#summary", (t) => t.startsWith("Ready"), "'Ready' after the restart", 20000);
    });

    await steps.run("with TSPOOL_READ_TOKEN the page asks for the token once and keeps it for the tab", async () => {
        const tokenService = new Service("token", await freePort(), dbEnv, { TSPOOL_READ_TOKEN: READ_TOKEN });
        cleanups.push(() => tokenService.stop());
        await tokenService.start();
        const tab = await context.newPage();
        try {
            const tabSeen = watch(tab);
            await tab.goto(`${tokenService.url}/ui/`);
            await waitFor("the token form", () => tab.locator("#token-form").isVisible(), 15000);
            assertEqual(await tab.evaluate(() => document.activeElement.id), "token-input", "focus on the token field");
            // nothing read yet: no figures pretend to be data
            assertEqual(await tab.locator("#server-stats").isVisible(), false, "server figures before the token");
            assertEqual(await text(tab, "#g-in_use"), "–", "in-use gauge before the token");
            await tab.getByLabel("Read token").fill("wrong-token");
            await tab.keyboard.press("Enter");
            await waitText(tab, "#token-error", (t) => t.includes("rejected"), "the rejection message", 15000);
            await shoot(tab, "dashboard-token.png");
            assertEqual(await tab.locator("#token-form").isVisible(), true, "form shown again");
            await tab.getByLabel("Read token").fill(READ_TOKEN);
            await tab.getByRole("button", { name: "Use token" }).click();
            await waitText(tab, "#g-in_use", (t) => /^\d+$/.test(t), "the in-use gauge with the token", 15000);
            assertEqual(await tab.locator("#token-form").isVisible(), false, "form hidden");
            assertEqual(await tab.evaluate(() => sessionStorage.getItem("tspool.readToken")), READ_TOKEN, "stored token");
            await tab.reload();
            await waitText(tab, "#g-in_use", (t) => /^\d+$/.test(t), "the gauge after a reload", 15000);
            assertEqual(await tab.locator("#token-form").isVisible(), false, "no second prompt after a reload");
            const unexpected = tabSeen.errors.filter((e) => !/status of 401/.test(e));
            assertEqual(unexpected.join("\n"), "", "console errors other than the 401s");
        } finally {
            await tab.close();
        }
    });

    await steps.run("the cluster section shows the primary and the streaming replica, its lag sparkline and the rotation", async () => {
        // the streaming replica of scripts/replica.sh (pg_basebackup -R) of the PostgreSQL test server
        const repEnvOf = { ...process.env, TSPOOL_DEVDB_DIR: PG_DIR };
        const rep = (...args) => spawnSync(path.join(SOURCE_DIR, "scripts/replica.sh"), args, { env: repEnvOf, encoding: "utf8" });
        assertEqual(rep("start").status, 0, "scripts/replica.sh start");
        const port = rep("port").stdout.trim();
        const svc = new Service("cluster", await freePort(), dbEnv, { DB_READ_HOSTS: "127.0.0.1", DB_READ_PORT: port, DB_READ_MAX_LAG_BYTES: "1MB", TSPOOL_HEALTH_INTERVAL_MS: "300" });
        cleanups.push(() => svc.stop());
        await svc.start();
        const tab = await context.newPage();
        const psql = (script, sql) => spawnSync(path.join(SOURCE_DIR, script), ["psql", "-c", sql], { env: repEnvOf, encoding: "utf8" });
        try {
            const tabSeen = watch(tab);
            await tab.goto(`${svc.url}/`);
            await waitText(tab, "#cluster-note", (t) => t.startsWith("1 of 1 replicas serve reads"), "the cluster note");
            assertEqual(await tab.locator("#cluster-servers tbody tr").count(), 2, "primary and replica rows");
            await waitFor("the replica in rotation", async () =>
                (await tab.locator("#cluster-servers tbody tr", { hasText: "in rotation" }).count()) === 1, 10000);
            assertEqual(await tab.locator("#cluster-servers svg.spark").count(), 1, "one lag sparkline");
            // replay paused and WAL written: the replica leaves the rotation and the line rises
            assertEqual(psql("scripts/replica.sh", "SELECT pg_wal_replay_pause()").status, 0, "pause replay");
            assertEqual(psql("scripts/devdb.sh", "CREATE TABLE IF NOT EXISTS tspool_browser_lag (x text); INSERT INTO tspool_browser_lag SELECT repeat('x', 1000) FROM generate_series(1, 3000)").status, 0, "write WAL");
            await waitText(tab, "#cluster-note", (t) => t.startsWith("0 of 1 replicas serve reads"), "the replica out of rotation", 15000);
            await waitFor("the reason in the row", async () =>
                (await tab.locator("#cluster-servers tbody tr", { hasText: "DB_READ_MAX_LAG_BYTES" }).count()) === 1, 10000);
            await tab.locator("#cluster").screenshot({ path: path.join(ARTIFACTS, "dashboard-cluster.png") });
            assertEqual(tabSeen.errors.join("\n"), "", "console errors");
        } finally {
            psql("scripts/replica.sh", "SELECT pg_wal_replay_resume()");
            psql("scripts/devdb.sh", "DROP TABLE IF EXISTS tspool_browser_lag");
            await tab.close();
        }
    });

    await steps.run("the PgBouncer section shows both test instances and their pools, then one down", async () => {
        // the two PgBouncer instances of scripts/pgbouncer.sh in front of the PostgreSQL test server
        const pgbDir = process.env.TSPOOL_TEST_PGBDIR || path.join(SOURCE_DIR, ".tspool/test-pgbouncer");
        const pgbEnvOf = { ...process.env, TSPOOL_PGBOUNCER_DIR: pgbDir,
            TSPOOL_DEVDB_DIR: process.env.TSPOOL_TEST_PGDIR || path.join(SOURCE_DIR, ".tspool/test-pg") };
        const pgb = (...args) => spawnSync(path.join(SOURCE_DIR, "scripts/pgbouncer.sh"), args, { env: pgbEnvOf, encoding: "utf8" });
        assertEqual(pgb("start").status, 0, "scripts/pgbouncer.sh start");
        const pgbEnv = Object.fromEntries(pgb("env").stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
        const pgbService = new Service("pgbouncer", await freePort(), dbEnv, { ...pgbEnv, PGBOUNCER_REFRESH_MS: "300" });
        cleanups.push(() => pgbService.stop());
        await pgbService.start();
        const tab = await context.newPage();
        try {
            const tabSeen = watch(tab);
            await tab.goto(`${pgbService.url}/`);
            await waitText(tab, "#pgb-note", (t) => t.startsWith("2 of 2 instances up"), "the PgBouncer note");
            assertEqual(await tab.locator("#pgb-instances tbody tr").count(), 2, "two instance rows");
            await waitFor("the appdb pool row", async () =>
                (await tab.locator("#pgb-databases tbody tr", { hasText: "appdb" }).count()) === 1, 10000);
            await tab.locator("#pgbouncer").screenshot({ path: path.join(ARTIFACTS, "dashboard-pgbouncer.png") });
            assertEqual(pgb("stop-one", "2").status, 0, "stop instance 2");
            await waitText(tab, "#pgb-note", (t) => t.startsWith("1 of 2 instances up"), "one instance down", 30000);
            const down = tab.locator("#pgb-instances tbody tr", { hasText: "down" });
            assertEqual(await down.count(), 1, "the stopped instance says down");
            assertEqual(tabSeen.errors.join("\n"), "", "console errors");
        } finally {
            pgb("start");
            await tab.close();
        }
    });

    const tsdbReason = !tsEndpoints ? "this build has no TimescaleDB endpoints (GET /hypertables is not in openapi.yaml)"
        : !process.env.TSPOOL_TEST_TSDB_DSN && !tsdbScript() ? "no TimescaleDB test server (scripts/tsdb.sh)" : null;
    if (tsdbReason !== null) {
        steps.skip("the hypertable table lists the test hypertable with its chunk count", tsdbReason);
    } else {
        await steps.run("the hypertable table lists the test hypertable with its chunk count", async () => {
            const dsn = tsdbDsn();
            const chunks = createTimescaleFixture(dsn);
            assert(chunks >= 4, `${chunks} chunks created`);
            const d = parseDsn(dsn);
            const tsService = new Service("timescaledb", await freePort(), {
                DB_HOST: d.host || "127.0.0.1", DB_PORT: d.port || "5432", DB_NAME: d.dbname || "postgres",
                DB_USER: d.user || "postgres", DB_PASS: d.password || "", DB_SSLMODE: d.sslmode || "disable",
            }, process.env.TSPOOL_TEST_TSDB_DSN ? {} : { DB_POOL_MODE: "direct" });
            cleanups.push(() => tsService.stop());
            await tsService.start();
            const tab = await context.newPage();
            try {
                const tabSeen = watch(tab);
                await tab.goto(`${tsService.url}/`);
                await waitFor("the TimescaleDB tables", () => tab.locator("#ts-body").isVisible(), 60000);
                const row = tab.locator("#hypertables tbody tr", { hasText: "browser_metrics" });
                await waitFor("the browser_metrics row", async () => (await row.count()) === 1, 30000);
                assertEqual((await row.locator("td").nth(1).textContent()).trim(), String(chunks), "chunk count");
                assert(/^1 of /.test((await row.locator("td").nth(2).textContent()).trim()), "one compressed chunk");
                await waitFor("the retention policy", async () =>
                    (await tab.locator("#policies tbody tr", { hasText: "drop after 90 days" })
                        .filter({ hasText: "public.browser_metrics" }).count()) === 1, 10000);
                await waitFor("the retention job", async () =>
                    (await tab.locator("#jobs tbody tr", { hasText: "policy_retention" })
                        .filter({ hasText: "public.browser_metrics" }).count()) === 1, 10000);
                // a job number opens the job's runs (GET /jobs/{id}/history) below the table
                const jobRow = tab.locator("#jobs tbody tr", { hasText: "policy_retention" }).filter({ hasText: "public.browser_metrics" });
                const jobId = (await jobRow.locator("td").first().textContent()).trim();
                await jobRow.locator("button.link").click();
                await waitFor("the job's runs", () => tab.locator("#job-history").isVisible(), 10000);
                assertEqual((await tab.locator("#job-history-title").textContent()).trim(), `Runs of job ${jobId}`, "history title");
                await waitFor("the history loaded", async () =>
                    !/Loading/.test(await tab.locator("#job-history-table tbody").textContent()), 10000);
                assert(!/not available/.test(await tab.locator("#job-history-table tbody").textContent()), "history answered");
                assert(/\d+(\.\d)? (B|KiB|MiB|GiB)/.test(await row.locator("td").nth(3).textContent()), "size shown");
                // one compressed chunk of regular data: compressed well, drawn as a bar
                const ratio = (await row.locator("td").nth(4).textContent()).trim();
                assert(/^\d+\.\d×$/.test(ratio) && parseFloat(ratio) > 2, `compression ratio ${ratio}`);
                assert((await row.locator("td").nth(4).locator(".bar[role=img]").getAttribute("aria-label")).startsWith("saves "), "bar label");
                await waitFor("the continuous aggregate", async () =>
                    (await tab.locator("#aggregates tbody tr", { hasText: "browser_metrics_hourly" }).count()) === 1, 10000);
                // the hypertable opens its chunk list, one page (GET .../chunks?limit=)
                await row.locator("button[data-ht]").click();
                await waitFor("the chunk list", async () =>
                    (await tab.locator("#chunks tbody tr", { hasText: "_chunk" }).count()) === chunks, 10000);
                assert(await tab.locator("#chunks-next").isHidden(), "no next page for a few chunks");
                assertEqual(tabSeen.errors.join("\n"), "", "console errors");
                await tab.locator("#timescaledb").screenshot({ path: path.join(ARTIFACTS, "dashboard-timescaledb.png") });
            } finally {
                await tab.close();
            }
        });
    }
}

try {
    await main();
} catch (e) {
    steps.failed++;
    console.log(`not ok - setup\n  ${String(e && e.stack ? e.stack : e).replace(/\n/g, "\n  ")}`);
} finally {
    for (const fn of cleanups.reverse()) {
        try {
            await fn();
        } catch (e) {
            console.log(`cleanup: ${e.message}`);
        }
    }
    // leave the shared test database running for the tests after this one
    try {
        devdb("start");
    } catch (e) {
        console.log(`cleanup: ${e.message}`);
    }
}
console.log(`artifacts: ${ARTIFACTS}`);
process.exitCode = steps.summary();
