// lint.mjs - lints openapi.yaml with the pinned Redocly CLI and the rules in redocly.yaml.
// Fails on any error and on any warning; prints each finding as file:line:col rule message.
// SPDX-License-Identifier: MIT
// usage: node lint.mjs [openapi.yaml]
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const spec = path.resolve(process.argv[2] || path.join(here, "../../openapi.yaml"));
const cli = path.join(here, "node_modules/@redocly/cli/bin/cli.js");

// no telemetry and no update check: the lint needs nothing from the network
const env = { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" };
const res = spawnSync(process.execPath, [cli, "lint", "--config", path.join(here, "redocly.yaml"), "--format=json", spec], {
    env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
});
let report;
try {
    report = JSON.parse(res.stdout);
} catch {
    console.error(res.stdout + res.stderr);
    console.error("lint: redocly did not produce a report");
    console.log("0 passed, 1 failed");
    process.exit(1);
}
for (const p of report.problems) {
    const loc = p.location && p.location[0];
    const where = loc ? `${path.relative(process.cwd(), spec)}:${loc.start ? `${loc.start.line}:${loc.start.col}` : "?"} ${loc.pointer}` : spec;
    console.log(`${where}: ${p.severity} ${p.ruleId}: ${p.message}`);
}
const { errors, warnings } = report.totals;
console.log(`lint: redocly ${report.version}, ${errors} errors, ${warnings} warnings`);
const failed = errors + warnings > 0 ? 1 : 0;
console.log(`${1 - failed} passed, ${failed} failed`);
process.exit(failed);
