// lib.mjs - shared helpers of the chart tests: render the chart with the test renderer (or a real
// helm), parse the documents, validate them against the Kubernetes schemas.
// SPDX-License-Identifier: MIT
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { unknownFields } from "./strict-fields.mjs";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.TSPOOL_SOURCE_DIR || path.resolve(HERE, "../..");
export const CHART_DIR = path.join(SOURCE_DIR, "helm/tspool");
export const VALUES_DIR = path.join(HERE, "values");

/* The renderer binary: TSPOOL_HELM_RENDER (set by ctest), else built once into a temp dir. */
let rendererPath = process.env.TSPOOL_HELM_RENDER || "";
export function renderer() {
    if (rendererPath) {
        return rendererPath;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-helm-render-"));
    const res = spawnSync("sh", [path.join(HERE, "build-renderer.sh"), path.join(dir, "tspool-helm-render")], {
        encoding: "utf8",
    });
    if (res.status !== 0) {
        throw new Error(`building the renderer failed:\n${res.stdout}${res.stderr}`);
    }
    rendererPath = path.join(dir, "tspool-helm-render");
    return rendererPath;
}

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

/* Renders the chart. opts: {values: [objects or file paths], kubeVersion, apiVersions, notes,
 * name, namespace}. Returns {ok, status, stdout, stderr, docs}. */
export function render(opts = {}) {
    const args = ["--strict", "--lint", "--name", opts.name || "tspool", "--namespace", opts.namespace || "prod"];
    for (const v of opts.values || []) {
        args.push("-f", typeof v === "string" && fs.existsSync(v) ? v : valuesFile(v));
    }
    if (opts.kubeVersion) {
        args.push("--kube-version", opts.kubeVersion);
    }
    for (const a of opts.apiVersions || []) {
        args.push("--api-versions", a);
    }
    if (opts.notes) {
        args.push("--notes");
    }
    args.push(CHART_DIR);
    const res = spawnSync(renderer(), args, { encoding: "utf8" });
    const out = { ok: res.status === 0, status: res.status, stdout: res.stdout, stderr: res.stderr, args, docs: [] };
    if (out.ok && !opts.notes) {
        out.docs = parseDocs(res.stdout);
    }
    return out;
}

/* Same render through a real helm binary (helm template); null when helm is not on PATH. */
export function helmPath() {
    const res = spawnSync("sh", ["-c", "command -v helm"], { encoding: "utf8" });
    return res.status === 0 ? res.stdout.trim() : null;
}

export function helmTemplate(helm, opts = {}) {
    const args = ["template", opts.name || "tspool", CHART_DIR, "--namespace", opts.namespace || "prod"];
    for (const v of opts.values || []) {
        args.push("-f", typeof v === "string" && fs.existsSync(v) ? v : valuesFile(v));
    }
    if (opts.kubeVersion) {
        args.push("--kube-version", opts.kubeVersion);
    }
    for (const a of opts.apiVersions || []) {
        args.push("--api-versions", a);
    }
    const res = spawnSync(helm, args, { encoding: "utf8" });
    return { ok: res.status === 0, stdout: res.stdout, stderr: res.stderr, docs: res.status === 0 ? parseDocs(res.stdout) : [] };
}

/* Finds the one document of a kind (and name suffix, if given). */
export function findDoc(docs, kind, name) {
    const hits = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
    if (hits.length !== 1) {
        throw new Error(`expected one ${kind}${name ? " " + name : ""}, found ${hits.length}`);
    }
    return hits[0];
}

/* Kubernetes schema validation with the kubernetes-models validators (OpenAPI of the API server). */
const MODELS = {
    "v1/ConfigMap": "kubernetes-models/v1/ConfigMap",
    "v1/Secret": "kubernetes-models/v1/Secret",
    "v1/Service": "kubernetes-models/v1/Service",
    "v1/ServiceAccount": "kubernetes-models/v1/ServiceAccount",
    "v1/Pod": "kubernetes-models/v1/Pod",
    "apps/v1/Deployment": "kubernetes-models/apps/v1/Deployment",
    "policy/v1/PodDisruptionBudget": "kubernetes-models/policy/v1/PodDisruptionBudget",
    "autoscaling/v2/HorizontalPodAutoscaler": "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler",
    "networking.k8s.io/v1/NetworkPolicy": "kubernetes-models/networking.k8s.io/v1/NetworkPolicy",
    "monitoring.coreos.com/v1/ServiceMonitor":
        "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule":
        "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule",
};

export async function validateK8s(doc) {
    const key = `${doc.apiVersion}/${doc.kind}`;
    const mod = MODELS[key];
    if (!mod) {
        throw new Error(`no schema known for ${key}`);
    }
    const classes = await import(mod);
    const cls = classes[doc.kind];
    new cls(doc).validate(); // throws with the JSON path of the first problem
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
