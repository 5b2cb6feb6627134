// automation.test.mjs - builds the automation example (examples/automation, TypeScript on the
// generated client) and runs it against `tspool serve` on the PostgreSQL test server: a dry run
// reports the changes and makes none, the first run applies them, the second run changes
// nothing, and the pool then has exactly the desired configuration.
// SPDX-License-Identifier: MIT
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { pgEnv, request, ROOT, Service } from "./lib.mjs";

const EXAMPLE = path.join(ROOT, "examples/automation");
const SCRIPT = path.join(EXAMPLE, "dist/examples/automation/apply-pool.js");
const ADMIN = "automation-admin-token";
let svc;
let tmp;

function apply(args) {
    const res = spawnSync(process.execPath, [SCRIPT, "--url", svc.url, ...args], {
        env: { ...process.env, TSPOOL_ADMIN_TOKEN: ADMIN },
        encoding: "utf8",
        timeout: 60000,
    });
    return { code: res.status, out: res.stdout, err: res.stderr };
}

async function poolConfig() {
    const res = await request(svc.url, "GET", "/pool/status");
    assert.equal(res.status, 200);
    const { size, max_overflow, timeout_ms } = JSON.parse(res.text).config;
    return { size, max_overflow, timeout_ms };
}

before(async () => {
    const tsc = spawnSync(process.execPath, [path.join(EXAMPLE, "node_modules/typescript/bin/tsc"), "-p", EXAMPLE], { encoding: "utf8" });
    assert.equal(tsc.status, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    svc = new Service(process.env.TSPOOL_BINARY, { ...pgEnv(), TSPOOL_ADMIN_TOKEN: ADMIN, DB_MAX_CONNS: "20", DB_MAX_OVERFLOW: "10", DB_POOL_TIMEOUT: "30" });
    await svc.start();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-automation-"));
});

after(async () => {
    if (svc) {
        assert.equal(await svc.stop(), 0, svc.output);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
});

test("apply-pool: dry run, apply, then nothing left to change", async () => {
    const desired = JSON.parse(fs.readFileSync(path.join(EXAMPLE, "desired-pool.json"), "utf8"));
    assert.deepEqual(await poolConfig(), { size: 20, max_overflow: 10, timeout_ms: 30000 });

    const dry = apply(["--dry-run", path.join(EXAMPLE, "desired-pool.json")]);
    assert.equal(dry.code, 2, dry.out + dry.err);
    assert.equal(
        dry.out,
        `would change size: 20 -> ${desired.size}\nwould change max_overflow: 10 -> ${desired.max_overflow}\n` +
            `would change timeout_ms: 30000 -> ${desired.timeout_ms}\npool at ${svc.url}: 3 change(s) to make (dry run)\n`,
    );
    assert.deepEqual(await poolConfig(), { size: 20, max_overflow: 10, timeout_ms: 30000 }, "a dry run changes nothing");

    const first = apply([path.join(EXAMPLE, "desired-pool.json")]);
    assert.equal(first.code, 0, first.out + first.err);
    assert.equal(
        first.out,
        `change size: 20 -> ${desired.size}\nchange max_overflow: 10 -> ${desired.max_overflow}\n` +
            `change timeout_ms: 30000 -> ${desired.timeout_ms}\npool at ${svc.url}: 3 change(s) applied\n`,
    );
    assert.deepEqual(await poolConfig(), desired);

    const second = apply([path.join(EXAMPLE, "desired-pool.json")]);
    assert.equal(second.code, 0, second.out + second.err);
    assert.equal(
        second.out,
        `pool at ${svc.url}: no changes (size ${desired.size}, max_overflow ${desired.max_overflow}, timeout_ms ${desired.timeout_ms})\n`,
    );
    assert.deepEqual(await poolConfig(), desired);
});

test("apply-pool: only the differing value is sent", async () => {
    const file = path.join(tmp, "one.json");
    const now = await poolConfig();
    fs.writeFileSync(file, JSON.stringify({ ...now, max_overflow: now.max_overflow + 1 }));
    const res = apply([file]);
    assert.equal(res.code, 0, res.out + res.err);
    assert.equal(res.out, `change max_overflow: ${now.max_overflow} -> ${now.max_overflow + 1}\npool at ${svc.url}: 1 change(s) applied\n`);
    assert.deepEqual(await poolConfig(), { ...now, max_overflow: now.max_overflow + 1 });
});

test("apply-pool: a value the service rejects is reported with the problem document", async () => {
    const file = path.join(tmp, "bad.json");
    fs.writeFileSync(file, JSON.stringify({ size: 0 }));
    const res = apply([file]);
    assert.equal(res.code, 1);
    assert.match(res.err, /^PATCH \/pool: 400 Invalid request: .* \(field size\)\n$/);
});

test("apply-pool: the admin token is required", async () => {
    assert.equal(apply([path.join(EXAMPLE, "desired-pool.json")]).code, 0);
    const res = spawnSync(process.execPath, [SCRIPT, "--url", svc.url, path.join(EXAMPLE, "desired-pool.json")], { env: { ...process.env, TSPOOL_ADMIN_TOKEN: "" }, encoding: "utf8" });
    // the pool already has the desired state: reading needs no token, nothing is patched
    assert.equal(res.status, 0, res.stdout + res.stderr);
    const file = path.join(tmp, "change.json");
    fs.writeFileSync(file, JSON.stringify({ size: 3 }));
    const denied = spawnSync(process.execPath, [SCRIPT, "--url", svc.url, file], { env: { ...process.env, TSPOOL_ADMIN_TOKEN: "" }, encoding: "utf8" });
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /^PATCH \/pool: 401 Unauthorized: /);
});
