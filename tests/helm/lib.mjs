// lib.mjs - shared helpers of the chart tests: render the chart with the real helm 3.17 (unpacked
// by setup.sh), parse the documents, validate them against the Kubernetes 1.31 schemas.
// SPDX-License-Identifier: MIT
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { validate131 } from "./k8s-schema.mjs";
import { unknownFields } from "./strict-fields.mjs";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.TSPOOL_SOURCE_DIR || path.resolve(HERE, "../..");
export const CHART_DIR = path.join(SOURCE_DIR, "helm/tspool");
export const VALUES_DIR = path.join(HERE, "values");

/* Writes values (an object, or YAML text) to a temp file and returns its path. */
export function valuesFile(values) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-values-"));
    const file = path.join(dir, "values.yaml");
    fs.writeFileSync(file, typeof values === "string" ? values : YAML.stringify(values));
    return file;
}

function parseDocs(text) {
    const docs = [];
    for (const doc of YAML.parseAllDocuments(text)) {
        if (doc.errors.length) {
            throw new Error(`rendered YAML does not parse: ${doc.errors[0].message}`);
        }
        const obj = doc.toJS();
        if (obj !== null && obj !== undefined) {
            docs.push(obj);
        }
    }
    return docs;
}

/* The real helm: TSPOOL_HELM (set by ctest to what setup.sh unpacked), else helm on PATH. */
export function helmPath() {
    if (process.env.TSPOOL_HELM) {
        return process.env.TSPOOL_HELM;
    }
    const res = spawnSync("sh", ["-c", "command -v helm"], { encoding: "utf8" });
    if (res.status !== 0) {
        throw new Error("no helm: run tests/helm/setup.sh BUILD_DIR and set TSPOOL_HELM");
    }
    return res.stdout.trim();
}

function helm(args) {
    return spawnSync(helmPath(), args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

/* A copy of the chart with `extra` files (name -> text) added under templates/ and, when
 * only is set, every other manifest template removed. Returns its directory. */
function chartCopy(extra, only) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-chart-"));
    const copy = path.join(dir, "tspool");
    fs.cpSync(CHART_DIR, copy, { recursive: true });
    const templates = path.join(copy, "templates");
    if (only) {
        for (const f of fs.readdirSync(templates)) {
            if (!f.startsWith("_")) {
                fs.rmSync(path.join(templates, f), { recursive: true });
            }
        }
    }
    for (const [name, text] of Object.entries(extra)) {
        fs.writeFileSync(path.join(templates, name), text);
    }
    return copy;
}

function commonArgs(opts) {
    const args = ["--namespace", opts.namespace || "prod"];
    for (const v of opts.values || []) {
        args.push("-f", typeof v === "string" && fs.existsSync(v) ? v : valuesFile(v));
    }
    if (opts.kubeVersion) {
        args.push("--kube-version", opts.kubeVersion);
    }
    for (const a of opts.apiVersions || []) {
        args.push("--api-versions", a);
    }
    return args;
}

/* Renders the chart with `helm template`. opts: {values: [objects or file paths], kubeVersion,
 * apiVersions, notes, name, namespace}. With notes, stdout is NOTES.txt as helm renders it
 * (helm template does not print notes: the chart copy renders them as a document).
 * Returns {ok, status, stdout, stderr, args, docs}. */
export function render(opts = {}) {
    let chart = CHART_DIR;
    const args = ["template", opts.name || "tspool"];
    if (opts.notes) {
        const notes = fs.readFileSync(path.join(CHART_DIR, "templates/NOTES.txt"), "utf8");
        chart = chartCopy({
            "_tsptest_notes.tpl": `{{- define "tsptest.notes" -}}\n${notes}{{- end -}}\n`,
            "tsptest-notes.yaml": 'notes: {{ include "tsptest.notes" . | toJson }}\n',
        });
    }
    args.push(chart, ...commonArgs(opts));
    if (opts.notes) {
        args.push("--show-only", "templates/tsptest-notes.yaml");
    }
    const res = helm(args);
    const out = { ok: res.status === 0, status: res.status, stdout: res.stdout, stderr: res.stderr, args, docs: [] };
    if (out.ok) {
        out.docs = parseDocs(res.stdout);
        if (opts.notes) {
            out.stdout = out.docs[0].notes;
            out.docs = [];
        }
    }
    if (chart !== CHART_DIR) {
        fs.rmSync(path.dirname(chart), { recursive: true, force: true });
    }
    return out;
}

/* `helm lint --strict` (a missing value key is an error) with the same options as render. */
export function lint(opts = {}) {
    const res = helm(["lint", "--strict", CHART_DIR, ...commonArgs(opts)]);
    return { ok: res.status === 0, stdout: res.stdout, stderr: res.stderr };
}

/* The values helm renders with: the chart's defaults coalesced with the values files (null
 * deletes a key), before schema validation. */
export function coalescedValues(files) {
    const chart = chartCopy({ "tsptest-values.yaml": "values: {{ .Values | toJson }}\n" }, true);
    const args = ["template", "tspool", chart, "--skip-schema-validation", ...commonArgs({ values: files })];
    const res = helm(args);
    fs.rmSync(path.dirname(chart), { recursive: true, force: true });
    if (res.status !== 0) {
        throw new Error(`helm template failed: ${res.stderr}`);
    }
    return parseDocs(res.stdout)[0].values;
}

/* Finds the one document of a kind (and name suffix, if given). */
export function findDoc(docs, kind, name) {
    const hits = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
    if (hits.length !== 1) {
        throw new Error(`expected one ${kind}${name ? " " + name : ""}, found ${hits.length}`);
    }
    return hits[0];
}

/* Kubernetes 1.31 schema validation (k8s-schema.mjs); the Prometheus Operator's kinds, not
 * built into Kubernetes, with the kubernetes-models validators and the strict-field check. */
const CRDS = {
    "monitoring.coreos.com/v1/ServiceMonitor":
        "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule":
        "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule",
};

export async function validateK8s(doc) {
    const key = `${doc.apiVersion}/${doc.kind}`;
    const mod = CRDS[key];
    if (!mod) {
        validate131(doc);
        return;
    }
    const classes = await import(mod);
    new classes[doc.kind](doc).validate(); // throws with the JSON path of the first problem
    const unknown = unknownFields(doc, mod);
    if (unknown.length) {
        throw new Error(`unknown fields (the API server would drop them): ${unknown.join(", ")}`);
    }
}

/* Flattens values.yaml the way the README table lists it: a key with a "# --" comment is one
 * row; a mapping without one is descended into. Returns [{key, type, default, description}]. */
export function valuesRows(text) {
    const doc = YAML.parseDocument(text);
    const rows = [];
    const walk = (map, prefix, mapComment) => {
        map.items.forEach((pair, i) => {
            const key = prefix ? `${prefix}.${pair.key.value}` : String(pair.key.value);
            let comment = pair.key.commentBefore || "";
            if (i === 0 && !comment && mapComment) {
                comment = mapComment;
            }
            const desc = comment
                .split("\n")
                .map((l) => l.trim())
                .filter((l) => l.startsWith("--"))
                .map((l) => l.replace(/^--\s*/, ""))
                .join(" ");
            const value = pair.value;
            if (!desc && YAML.isMap(value) && value.items.length) {
                walk(value, key, value.commentBefore);
                return;
            }
            const js = value === null ? null : value.toJSON();
            const type = js === null ? "null" : Array.isArray(js) ? "list" : typeof js === "object" ? "object" : typeof js;
            rows.push({ key, type, default: JSON.stringify(js), description: desc });
        });
    };
    walk(doc.contents, "", doc.contents.commentBefore);
    return rows;
}

/* The JSON Schema node of a dotted values key, or undefined. */
export function schemaAt(schema, key) {
    let node = schema;
    for (const part of key.split(".")) {
        node = node && node.properties ? node.properties[part] : undefined;
    }
    return node;
}

function schemaType(node) {
    if (!node) {
        return "(not in schema)";
    }
    if (node.oneOf) {
        return node.oneOf.map(schemaType).join(" or ");
    }
    if (node.enum && !node.type) {
        return node.enum.map((v) => (v === null ? "null" : typeof v)).filter((v, i, a) => a.indexOf(v) === i).join(" or ");
    }
    const t = Array.isArray(node.type) ? node.type : [node.type];
    return t.map((x) => (x === "array" ? "list" : x)).join(" or ");
}

/* The README values table: key, type (from values.schema.json), default, description. */
export function valuesTable(text, schema) {
    const esc = (s) => s.replace(/\|/g, "\\|");
    const lines = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"];
    for (const r of valuesRows(text)) {
        const type = schemaType(schemaAt(schema, r.key));
        lines.push(`| \`${r.key}\` | ${type} | \`${esc(r.default)}\` | ${esc(r.description)} |`);
    }
    return lines.join("\n");
}

export const TABLE_BEGIN = "<!-- values-table:begin (generated by tests/helm/values-table.mjs; checked by a test) -->";
export const TABLE_END = "<!-- values-table:end -->";

export function readChartFiles() {
    return {
        values: fs.readFileSync(path.join(CHART_DIR, "values.yaml"), "utf8"),
        schema: JSON.parse(fs.readFileSync(path.join(CHART_DIR, "values.schema.json"), "utf8")),
        readme: fs.readFileSync(path.join(CHART_DIR, "README.md"), "utf8"),
    };
}
