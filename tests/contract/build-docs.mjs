// build-docs.mjs - renders openapi.yaml into api/docs.html (served by GET /docs) with the
// pinned Redocly CLI, scripts inlined so the page needs no network. `--check` renders into a
// temporary file and fails when api/docs.html differs (the committed page is stale) or loads
// anything from elsewhere.
// SPDX-License-Identifier: MIT
// usage: node build-docs.mjs [--check]
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const spec = path.join(root, "openapi.yaml");
const committed = path.join(root, "api/docs.html");
const cli = path.join(here, "node_modules/@redocly/cli/bin/cli.js");
const check = process.argv.includes("--check");

/* Attributes that make a browser fetch something: src=, href= on link (not on <a>), url(). */
function externalLoads(html) {
    const found = [];
    for (const m of html.matchAll(/<(script|img|iframe|source|audio|video|embed)\b[^>]*\bsrc\s*=\s*["']?(https?:)?\/\/[^"' >]+/gi)) {
        found.push(m[0]);
    }
    for (const m of html.matchAll(/<link\b[^>]*\bhref\s*=\s*["']?(https?:)?\/\/[^"' >]+/gi)) {
        found.push(m[0]);
    }
    for (const m of html.matchAll(/@import\s+(url\()?["']?(https?:)?\/\/[^"')]+/gi)) {
        found.push(m[0]);
    }
    return found;
}

function render(out) {
    const env = { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" };
    const args = [cli, "build-docs", spec, "--config", path.join(here, "redocly.yaml"), "--inlineBundle", "--title", "tspool API", "-o", out];
    const res = spawnSync(process.execPath, args, { env, encoding: "utf8" });
    if (res.status !== 0) {
        process.stderr.write(res.stdout + res.stderr);
        throw new Error(`redocly build-docs exited ${res.status}`);
    }
}

let failed = 0;
if (check) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-docs-"));
    const out = path.join(tmp, "docs.html");
    try {
        render(out);
        const fresh = fs.readFileSync(out);
        const old = fs.existsSync(committed) ? fs.readFileSync(committed) : Buffer.alloc(0);
        if (Buffer.compare(fresh, old) !== 0) {
            console.log("FAIL docs current: api/docs.html is not the page rendered from openapi.yaml; run `make docs` and commit it");
            failed++;
        } else {
            console.log("ok docs current: api/docs.html matches openapi.yaml");
        }
        const loads = externalLoads(old.toString("utf8"));
        if (loads.length > 0) {
            console.log(`FAIL docs offline: the page loads from elsewhere: ${loads.join(" | ")}`);
            failed++;
        } else {
            console.log("ok docs offline: no script, stylesheet, image or font from another host");
        }
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    console.log(`${2 - failed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
} else {
    render(committed);
    const loads = externalLoads(fs.readFileSync(committed, "utf8"));
    if (loads.length > 0) {
        console.error(`build-docs: the page loads from elsewhere: ${loads.join(" | ")}`);
        process.exit(1);
    }
    console.log(`build-docs: wrote ${path.relative(process.cwd(), committed)}`);
}
