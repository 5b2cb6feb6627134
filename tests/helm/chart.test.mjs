// chart.test.mjs - renders the tspool chart with the real helm (helm template, helm lint --strict)
// with default values and variations and asserts on the manifests; validates every document
// against the Kubernetes 1.31 schemas; the connection-budget guard; the helm test Pod.
// SPDX-License-Identifier: MIT
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import YAML from "yaml";
import { CHART_DIR, VALUES_DIR, findDoc, helmPath, lint, render, validateK8s } from "./lib.mjs";

const CI_DIR = path.join(CHART_DIR, "ci");
const ciFiles = fs.readdirSync(CI_DIR).filter((f) => f.endsWith(".yaml")).sort();
const KUBE_FOR = { "full-values.yaml": "v1.30.0" };

function mustRender(opts) {
    const r = render(opts);
    assert.ok(r.ok, `render failed (${r.args.join(" ")}):\n${r.stderr}`);
    return r;
}

const container = (dep) => dep.spec.template.spec.containers[0];
const cmData = (docs) => findDoc(docs, "ConfigMap", "tspool").data;
const sha256 = (s) => crypto.createHash("sha256").update(s).digest("hex");

describe("every rendering is valid Kubernetes", () => {
    const cases = [["default values", {}], ...ciFiles.map((f) => [f, { values: [path.join(CI_DIR, f)], kubeVersion: KUBE_FOR[f] }])];
    test("helm lint --strict passes on the chart as it is", () => {
        const res = spawnSync(helmPath(), ["lint", "--strict", CHART_DIR], { encoding: "utf8" });
        assert.equal(res.status, 0, res.stdout + res.stderr);
        assert.match(res.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
    for (const [name, opts] of cases) {
        test(`${name}: helm lint --strict passes`, () => {
            const r = lint(opts);
            assert.ok(r.ok, r.stdout + r.stderr);
        });
        test(`${name}: all documents pass the Kubernetes 1.31 schemas`, async () => {
            const r = mustRender(opts);
            assert.ok(r.docs.length >= 5, `only ${r.docs.length} documents`);
            for (const doc of r.docs) {
                try {
                    await validateK8s(doc);
                } catch (e) {
                    assert.fail(`${doc.kind}/${doc.metadata.name}: ${e.message}`);
                }
                assert.equal(doc.metadata.namespace, "prod", `${doc.kind} namespace`);
                assert.equal(doc.metadata.labels["app.kubernetes.io/instance"], "tspool");
            }
        });
    }

    test("the checks can fail: misspelt fields, a wrong type, a kind 1.31 does not serve", async () => {
        const docs = mustRender({}).docs;
        let dep = structuredClone(findDoc(docs, "Deployment"));
        container(dep).readinesProbe = container(dep).readinessProbe;
        await assert.rejects(validateK8s(dep), /unknown field Deployment\.spec\.template\.spec\.containers\.0\.readinesProbe/);
        dep = structuredClone(findDoc(docs, "Deployment"));
        container(dep).securityContext.capabilitiez = {};
        await assert.rejects(validateK8s(dep), /unknown field .*securityContext\.capabilitiez/);
        dep = structuredClone(findDoc(docs, "Deployment"));
        container(dep).ports[0].containerPort = "8080";
        await assert.rejects(validateK8s(dep), /containerPort must be number/);
        const pdb = structuredClone(findDoc(docs, "PodDisruptionBudget"));
        pdb.apiVersion = "policy/v1beta1"; // removed in 1.25
        await assert.rejects(validateK8s(pdb), /Kubernetes 1\.31\.0 has no policy\/v1beta1\/PodDisruptionBudget/);
    });

    test("default values render exactly the default set of kinds", () => {
        const r = mustRender({});
        const kinds = r.docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
        assert.deepEqual(kinds, [
            "ConfigMap/tspool",
            "Deployment/tspool",
            "Pod/tspool-test",
            "PodDisruptionBudget/tspool",
            "Service/tspool",
            "ServiceAccount/tspool",
        ]);
    });
});

describe("deployment", () => {
    const r = mustRender({});
    const dep = findDoc(r.docs, "Deployment");
    const c = container(dep);

    test("probes hit /startupz, /livez and /readyz on the named http port", () => {
        assert.deepEqual(c.startupProbe.httpGet, { path: "/startupz", port: "http" });
        assert.deepEqual(c.livenessProbe.httpGet, { path: "/livez", port: "http" });
        assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "http" });
        assert.deepEqual(c.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
        // startup allows 5 minutes to reach the database; liveness restarts only after 30 s of failures
        assert.equal(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold, 300);
        assert.equal(c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold, 30);
        assert.equal(c.readinessProbe.failureThreshold, 2);
    });

    test("server.probePort: a probe listener of its own, the kubelet probes use it", () => {
        const rp = mustRender({ values: [{ server: { probePort: 8081 } }] });
        const cp = container(findDoc(rp.docs, "Deployment"));
        assert.equal(cmData(rp.docs).TSPOOL_PROBE_LISTEN, "0.0.0.0:8081");
        assert.deepEqual(cp.ports, [
            { name: "http", containerPort: 8080, protocol: "TCP" },
            { name: "probes", containerPort: 8081, protocol: "TCP" },
        ]);
        assert.deepEqual(cp.livenessProbe.httpGet, { path: "/livez", port: "probes" });
        assert.deepEqual(cp.readinessProbe.httpGet, { path: "/readyz", port: "probes" });
        assert.equal(cmData(r.docs).TSPOOL_PROBE_LISTEN, undefined); // off by default
        assert.equal(cmData(r.docs).DB_STATEMENT_TIMEOUT_MS, undefined); // the server's own setting
        const rl = mustRender({ values: [{ database: { lockTimeoutMs: 5000, statementTimeoutMs: 0 } }] });
        assert.equal(cmData(rl.docs).TSPOOL_LOCK_TIMEOUT_MS, "5000");
        assert.equal(cmData(rl.docs).DB_STATEMENT_TIMEOUT_MS, "0");
    });

    test("the container runs the image's ENTRYPOINT (tspool serve): no command or args", () => {
        assert.equal(c.command, undefined);
        assert.equal(c.args, undefined);
        assert.equal(c.image, "tspool:0.1.0");
    });

    test("listen address in the ConfigMap matches the container port", () => {
        assert.equal(cmData(r.docs).TSPOOL_LISTEN, "0.0.0.0:8080");
        const svc = findDoc(r.docs, "Service");
        assert.deepEqual(svc.spec.ports, [{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }]);
        assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
    });

    test("pod and container securityContext are hardened", () => {
        const pod = dep.spec.template.spec.securityContext;
        assert.equal(pod.runAsNonRoot, true);
        assert.equal(pod.runAsUser, 10001);
        assert.deepEqual(pod.seccompProfile, { type: "RuntimeDefault" });
        const sc = c.securityContext;
        assert.equal(sc.runAsNonRoot, true);
        assert.equal(sc.readOnlyRootFilesystem, true);
        assert.equal(sc.allowPrivilegeEscalation, false);
        assert.equal(sc.privileged, false);
        assert.deepEqual(sc.capabilities, { drop: ["ALL"] });
        assert.deepEqual(sc.seccompProfile, { type: "RuntimeDefault" });
        assert.equal(dep.spec.template.spec.automountServiceAccountToken, false);
    });

    test("settings come from the ConfigMap with the DESIGN.md defaults", () => {
        assert.deepEqual(c.envFrom, [{ configMapRef: { name: "tspool" } }]);
        const data = cmData(r.docs);
        for (const [k, v] of Object.entries({
            DB_HOST: "timescaledb",
            DB_PORT: "5432",
            DB_MAX_CONNS: "20",
            DB_MAX_OVERFLOW: "10",
            DB_POOL_RECYCLE: "3600",
            DB_POOL_TIMEOUT: "30",
            DB_MIN_CONNS: "0",
            DB_SLOW_QUERY_MS: "1000",
            DB_LEAK_DETECTION_MS: "60000",
            DB_POOL_MODE: "pooled",
            TSPOOL_LOG_FORMAT: "json",
            TSPOOL_SHUTDOWN_DELAY: "5",
            TSPOOL_SHUTDOWN_GRACE: "20",
        })) {
            assert.equal(data[k], v, k);
        }
        for (const v of Object.values(data)) {
            assert.equal(typeof v, "string");
        }
        // null values are left to the service's defaults, never rendered as "" or "<nil>"
        assert.equal("TSPOOL_HTTP_THREADS" in data, false);
        assert.equal("DB_SESSION_SETTINGS" in data, false);
        assert.ok(!Object.keys(data).some((k) => /PASS|TOKEN/.test(k)), "a secret name in the ConfigMap");
    });

    test("nullable values removed altogether (a user's null) still render in strict mode", () => {
        const nulls = {
            database: { targetSessionAttrs: null, sessionSettings: null },
            pool: { idleTimeoutSeconds: null, prepingIdleMs: null },
            server: { httpThreads: null, healthIntervalMs: null, readyMaxWaiting: null, statsLogIntervalSeconds: null },
            shutdown: { terminationGracePeriodSeconds: null },
            autoscaling: { enabled: true, maxReplicas: 2, targetMemoryUtilizationPercentage: null },
        };
        const n = mustRender({ values: [nulls] });
        assert.equal("TSPOOL_HTTP_THREADS" in cmData(n.docs), false);
        assert.equal(findDoc(n.docs, "Deployment").spec.template.spec.terminationGracePeriodSeconds, 35);
        assert.equal(findDoc(n.docs, "HorizontalPodAutoscaler").spec.metrics.length, 1);
    });

    test("large numbers are rendered as integers, not in exponent form", () => {
        const big = mustRender({ values: [{ pool: { leakDetectionMs: 3600000 }, database: { statementTimeoutMs: 1200000 } }] });
        assert.equal(cmData(big.docs).DB_LEAK_DETECTION_MS, "3600000");
        assert.equal(cmData(big.docs).DB_STATEMENT_TIMEOUT_MS, "1200000");
    });

    test("checksum annotations are the sha256 of the rendered ConfigMap and Secret", () => {
        const ann = dep.spec.template.metadata.annotations;
        assert.match(ann["checksum/config"], /^[0-9a-f]{64}$/);
        const cmSource = r.stdout.split(/^---\n/m).find((s) => s.startsWith("# Source: tspool/templates/configmap.yaml"));
        const body = cmSource.replace(/^# Source: .*\n/, "");
        assert.equal(ann["checksum/config"], sha256(body));
        assert.match(ann["checksum/secret"], /^[0-9a-f]{64}$/);
    });

    test("a config change changes checksum/config, a secret change only checksum/secret", () => {
        const before = dep.spec.template.metadata.annotations;
        const cfg = findDoc(mustRender({ values: [{ pool: { maxConns: 21 } }] }).docs, "Deployment").spec.template.metadata.annotations;
        assert.notEqual(cfg["checksum/config"], before["checksum/config"]);
        assert.equal(cfg["checksum/secret"], before["checksum/secret"]);
        const sec = findDoc(mustRender({ values: [{ secrets: { dbPassword: "x" } }] }).docs, "Deployment").spec.template.metadata.annotations;
        assert.equal(sec["checksum/config"], before["checksum/config"]);
        assert.notEqual(sec["checksum/secret"], before["checksum/secret"]);
    });

    test("shutdown: no preStop, TSPOOL_SHUTDOWN_DELAY waits, terminationGracePeriodSeconds > delay + grace", () => {
        assert.equal(c.lifecycle, undefined);
        const data = cmData(r.docs);
        const delay = Number(data.TSPOOL_SHUTDOWN_DELAY);
        const grace = Number(data.TSPOOL_SHUTDOWN_GRACE);
        assert.equal(dep.spec.template.spec.terminationGracePeriodSeconds, 35);
        assert.ok(dep.spec.template.spec.terminationGracePeriodSeconds > delay + grace);
    });

    test("shutdown with preStopSleep: the sleep replaces TSPOOL_SHUTDOWN_DELAY, never both", () => {
        const p = mustRender({ values: [{ shutdown: { preStopSleep: true, delaySeconds: 8, graceSeconds: 12 } }], kubeVersion: "v1.30.0" });
        const d = findDoc(p.docs, "Deployment");
        assert.deepEqual(container(d).lifecycle, { preStop: { sleep: { seconds: 8 } } });
        assert.equal(cmData(p.docs).TSPOOL_SHUTDOWN_DELAY, "0");
        assert.equal(cmData(p.docs).TSPOOL_SHUTDOWN_GRACE, "12");
        assert.equal(d.spec.template.spec.terminationGracePeriodSeconds, 8 + 12 + 10);
    });

    test("preStopSleep on a cluster older than 1.30 fails rendering", () => {
        const p = render({ values: [{ shutdown: { preStopSleep: true } }], kubeVersion: "v1.29.4" });
        assert.equal(p.ok, false);
        assert.match(p.stderr, /shutdown\.preStopSleep needs the preStop sleep action of Kubernetes 1\.30/);
    });

    test("an explicit terminationGracePeriodSeconds not above delay + grace fails rendering", () => {
        const p = render({ values: [{ shutdown: { terminationGracePeriodSeconds: 25 } }] });
        assert.equal(p.ok, false);
        assert.match(p.stderr, /terminationGracePeriodSeconds 25 must exceed shutdown.delaySeconds \+ shutdown.graceSeconds \(25\)/);
        const ok = mustRender({ values: [{ shutdown: { terminationGracePeriodSeconds: 26 } }] });
        assert.equal(findDoc(ok.docs, "Deployment").spec.template.spec.terminationGracePeriodSeconds, 26);
    });

    test("soft anti-affinity across nodes by default; topology spread gets the selector", () => {
        const aff = dep.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
        assert.equal(aff[0].podAffinityTerm.topologyKey, "kubernetes.io/hostname");
        assert.deepEqual(aff[0].podAffinityTerm.labelSelector.matchLabels, dep.spec.selector.matchLabels);
        const t = mustRender({ values: [{ podAntiAffinity: "", topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule" }] }] });
        const spec = findDoc(t.docs, "Deployment").spec.template.spec;
        assert.equal(spec.affinity, undefined);
        assert.deepEqual(spec.topologySpreadConstraints[0].labelSelector.matchLabels, dep.spec.selector.matchLabels);
    });

    test("no secret mounted when no secret is configured", () => {
        assert.equal(c.env, undefined);
        assert.deepEqual(c.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
        assert.equal(r.docs.filter((d) => d.kind === "Secret").length, 0);
    });
});

describe("secrets as *_FILE mounts", () => {
    function mounts(docs) {
        const dep = findDoc(docs, "Deployment");
        const c = container(dep);
        const vol = dep.spec.template.spec.volumes.find((v) => v.name === "secrets");
        const mount = c.volumeMounts.find((m) => m.name === "secrets");
        const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));
        return { vol, mount, env };
    }

    test("chart-created Secret: every *_FILE points at a mounted key of that Secret", () => {
        const r = mustRender({ values: [{ secrets: { dbPassword: "pw", adminToken: "adm", readToken: "rd" } }] });
        const secret = findDoc(r.docs, "Secret", "tspool");
        assert.deepEqual(Object.keys(secret.data).sort(), ["admin-token", "db-password", "read-token"]);
        assert.equal(Buffer.from(secret.data["db-password"], "base64").toString(), "pw");
        const { vol, mount, env } = mounts(r.docs);
        assert.equal(vol.secret.secretName, "tspool");
        assert.equal(mount.readOnly, true);
        assert.equal(vol.secret.defaultMode, 0o440);
        assert.deepEqual(env, {
            DB_PASS_FILE: "/var/run/secrets/tspool/db-password",
            TSPOOL_ADMIN_TOKEN_FILE: "/var/run/secrets/tspool/admin-token",
            TSPOOL_READ_TOKEN_FILE: "/var/run/secrets/tspool/read-token",
        });
        for (const file of Object.values(env)) {
            const key = path.posix.relative(mount.mountPath, file);
            assert.ok(vol.secret.items.some((i) => i.key === key && i.path === key), `${file} not mounted`);
            assert.ok(key in secret.data, `${key} not in the Secret`);
        }
        const plain = JSON.stringify(findDoc(r.docs, "Deployment"));
        assert.ok(!plain.includes('"pw"') && !plain.includes('"adm"'), "a secret value in the pod spec");
    });

    test("existingSecret: no Secret rendered, its keys mounted, an empty key name skipped", () => {
        const r = mustRender({ values: [path.join(CI_DIR, "existing-secret-values.yaml")] });
        assert.equal(r.docs.filter((d) => d.kind === "Secret").length, 0);
        const { vol, env } = mounts(r.docs);
        assert.equal(vol.secret.secretName, "tspool-credentials");
        assert.deepEqual(vol.secret.items, [
            { key: "db-password", path: "db-password" },
            { key: "admin-token", path: "admin-token" },
        ]);
        assert.deepEqual(env, {
            DB_PASS_FILE: "/var/run/secrets/tspool/db-password",
            TSPOOL_ADMIN_TOKEN_FILE: "/var/run/secrets/tspool/admin-token",
        });
        const changed = mustRender({ values: [{ secrets: { existingSecret: "other" } }] });
        assert.equal(mounts(changed.docs).vol.secret.secretName, "other");
    });

    test("helm test Pod checks /readyz and /pool/status with the CLI and gets the read token", async () => {
        const r = mustRender({ values: [path.join(CI_DIR, "servicemonitor-values.yaml")] });
        const pod = findDoc(r.docs, "Pod", "tspool-test");
        assert.equal(pod.metadata.annotations["helm.sh/hook"], "test");
        assert.deepEqual(pod.spec.initContainers[0].command, ["tspool", "probe", "ready", "--url", "http://tspool:8080", "--timeout", "10"]);
        const c = pod.spec.containers[0];
        assert.deepEqual(c.command, ["tspool", "status", "--url", "http://tspool:8080"]);
        assert.deepEqual(c.env, [{ name: "TSPOOL_READ_TOKEN_FILE", value: "/var/run/secrets/tspool/read-token" }]);
        assert.deepEqual(pod.spec.volumes[0].secret.items, [{ key: "read-token", path: "read-token" }]);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        // the Pod `helm test` creates: runs once, as the service's image and user, valid for 1.31
        assert.equal(pod.spec.restartPolicy, "Never");
        assert.equal(c.image, "tspool:0.1.0");
        assert.equal(pod.spec.securityContext.runAsNonRoot, true);
        assert.ok(pod.metadata.annotations["helm.sh/hook-delete-policy"], "no hook-delete-policy");
        await assert.doesNotReject(validateK8s(pod));
    });
});

describe("optional resources", () => {
    test("HPA on: Deployment has no replicas, HPA targets it with the configured bounds", () => {
        const r = mustRender({ values: [path.join(CI_DIR, "hpa-values.yaml")] });
        const dep = findDoc(r.docs, "Deployment");
        assert.equal(dep.spec.replicas, undefined);
        const hpa = findDoc(r.docs, "HorizontalPodAutoscaler");
        assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "tspool" });
        assert.equal(hpa.spec.minReplicas, 2);
        assert.equal(hpa.spec.maxReplicas, 4);
        assert.deepEqual(hpa.spec.metrics.map((m) => [m.resource.name, m.resource.target.averageUtilization]), [
            ["cpu", 75],
            ["memory", 80],
        ]);
    });

    test("ServiceMonitor on: scrapes /metrics on the http port with the read token when metrics are private", () => {
        const r = mustRender({ values: [path.join(CI_DIR, "servicemonitor-values.yaml")] });
        const sm = findDoc(r.docs, "ServiceMonitor");
        assert.equal(sm.metadata.labels.release, "prometheus");
        assert.deepEqual(sm.spec.selector.matchLabels, findDoc(r.docs, "Service").spec.selector);
        const ep = sm.spec.endpoints[0];
        assert.equal(ep.port, "http");
        assert.equal(ep.path, "/metrics");
        assert.equal(ep.interval, "15s");
        assert.deepEqual(ep.authorization, { type: "Bearer", credentials: { name: "tspool", key: "read-token" } });
        assert.equal(cmData(r.docs).TSPOOL_PUBLIC_METRICS, "false");
        const pub = mustRender({ values: [{ metrics: { serviceMonitor: { enabled: true } } }] });
        assert.equal(findDoc(pub.docs, "ServiceMonitor").spec.endpoints[0].authorization, undefined);
    });

    test("ServiceMonitor with private metrics and no read token key fails rendering", () => {
        const r = render({ values: [{ metrics: { serviceMonitor: { enabled: true } }, server: { publicMetrics: false }, secrets: { keys: { readToken: "" } } }] });
        assert.equal(r.ok, false);
        assert.match(r.stderr, /needs secrets\.keys\.readToken/);
    });

    test("NetworkPolicy on: ingress only to http from allowed namespaces, egress only to the database and DNS", () => {
        const r = mustRender({ values: [path.join(CI_DIR, "networkpolicy-values.yaml")] });
        const np = findDoc(r.docs, "NetworkPolicy");
        assert.deepEqual(np.spec.policyTypes, ["Ingress", "Egress"]);
        assert.deepEqual(np.spec.podSelector.matchLabels, findDoc(r.docs, "Deployment").spec.selector.matchLabels);
        assert.equal(np.spec.ingress.length, 1);
        assert.deepEqual(np.spec.ingress[0].ports, [{ port: "http", protocol: "TCP" }]);
        assert.deepEqual(
            np.spec.ingress[0].from.map((f) => f.namespaceSelector.matchLabels["kubernetes.io/metadata.name"]),
            ["prod", "monitoring", "web"],
        );
        assert.deepEqual(np.spec.egress[0], { ports: [{ port: 5432, protocol: "TCP" }], to: [{ ipBlock: { cidr: "10.20.0.0/16" } }] });
        assert.deepEqual(np.spec.egress[1].ports.map((p) => `${p.port}/${p.protocol}`), ["53/UDP", "53/TCP"]);
        assert.equal(np.spec.egress.length, 2);
    });

    test("PodDisruptionBudget selects the pods and allows one eviction at a time", () => {
        const r = mustRender({});
        const pdb = findDoc(r.docs, "PodDisruptionBudget");
        assert.equal(pdb.spec.maxUnavailable, 1);
        assert.deepEqual(pdb.spec.selector.matchLabels, findDoc(r.docs, "Deployment").spec.selector.matchLabels);
    });

    test("Grafana dashboard ConfigMap carries the sidecar label and valid dashboard JSON", () => {
        const r = mustRender({ values: [{ grafanaDashboard: { enabled: true } }] });
        const cm = findDoc(r.docs, "ConfigMap", "tspool-dashboard");
        assert.equal(cm.metadata.labels.grafana_dashboard, "1");
        const dash = JSON.parse(cm.data["tspool.json"]);
        assert.deepEqual(dash, JSON.parse(fs.readFileSync(path.join(CHART_DIR, "dashboards/tspool.json"), "utf8")));
        const titles = dash.panels.map((p) => p.title);
        for (const t of ["Pool utilization", "Borrowers waiting", "Acquire wait p99", "Borrow timeouts", "Slow operations", "HTTP requests", "HTTP latency p99"]) {
            assert.ok(titles.includes(t), `panel ${t}`);
        }
    });

    test("private probes become exec probes of the tspool CLI", () => {
        const r = mustRender({ values: [{ server: { publicProbes: false, port: 9090 } }] });
        const c = container(findDoc(r.docs, "Deployment"));
        assert.deepEqual(c.livenessProbe.exec.command, ["tspool", "probe", "live", "--url", "http://127.0.0.1:9090", "--timeout", "3"]);
        assert.deepEqual(c.startupProbe.exec.command.slice(0, 3), ["tspool", "probe", "startup"]);
        assert.deepEqual(c.readinessProbe.exec.command.slice(0, 3), ["tspool", "probe", "ready"]);
        assert.equal(cmData(r.docs).TSPOOL_LISTEN, "0.0.0.0:9090");
    });
});

describe("timescaledb.desiredState", () => {
    test("off by default: no apply Job", () => {
        const r = mustRender({});
        assert.ok(!r.docs.some((d) => d.kind === "Job"));
    });

    test("a hook Job runs tspool apply on the document from its ConfigMap with the admin token", () => {
        const r = mustRender({ values: [path.join(CI_DIR, "full-values.yaml")], kubeVersion: "v1.30.0" });
        const cm = findDoc(r.docs, "ConfigMap", "tspool-apply");
        const job = findDoc(r.docs, "Job", "tspool-apply");
        assert.equal(cm.metadata.annotations["helm.sh/hook"], "post-install,post-upgrade");
        assert.equal(job.metadata.annotations["helm.sh/hook"], "post-install,post-upgrade");
        assert.ok(Number(cm.metadata.annotations["helm.sh/hook-weight"]) < Number(job.metadata.annotations["helm.sh/hook-weight"]));
        const doc = JSON.parse(cm.data["desired-state.json"]);
        assert.equal(doc.hypertables[0].retention_policy.drop_after, "90 days");
        const c = job.spec.template.spec.containers[0];
        assert.deepEqual(c.command, ["tspool", "apply", "/etc/tspool/desired-state/desired-state.json", "--url", "http://tspool:8080", "--prune"]);
        assert.deepEqual(c.env, [{ name: "TSPOOL_ADMIN_TOKEN_FILE", value: "/var/run/secrets/tspool/admin-token" }]);
        assert.deepEqual(job.spec.template.spec.volumes[1].secret.items, [{ key: "admin-token", path: "admin-token" }]);
        assert.equal(job.spec.template.spec.initContainers[0].command[1], "probe");
    });

    test("without an admin token the Job fails rendering", () => {
        const r = render({ values: [{ timescaledb: { desiredState: { hypertables: [{ name: "metrics" }] } } }] });
        assert.ok(!r.ok);
        assert.match(r.stderr, /timescaledb.desiredState needs the admin token/);
    });
});

describe("other guards", () => {
    test("pool.minConns above the pool size fails rendering", () => {
        const r = render({ values: [{ pool: { minConns: 21 } }] });
        assert.equal(r.ok, false);
        assert.match(r.stderr, /pool\.minConns 21 exceeds the pool size 20/);
        assert.ok(render({ values: [{ pool: { minConns: 20 } }] }).ok);
        const dev = render({ values: [{ pool: { minConns: 11 }, server: { env: "development" } }] });
        assert.match(dev.stderr, /pool\.minConns 11 exceeds the pool size 10/);
    });

    test("HPA minReplicas above maxReplicas fails rendering", () => {
        const r = render({ values: [{ autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 2 } }] });
        assert.equal(r.ok, false);
        assert.match(r.stderr, /autoscaling\.minReplicas must not exceed autoscaling\.maxReplicas/);
    });

    test("a cluster older than Chart.yaml's kubeVersion is refused", () => {
        const r = render({ kubeVersion: "v1.24.9" });
        assert.equal(r.ok, false);
        assert.match(r.stderr, /chart requires kubeVersion: >=1\.25\.0-0 which is incompatible with Kubernetes v1\.24\.9/);
    });

    const openapi = path.join(CHART_DIR, "../../openapi.yaml");
    test("probe, status and metrics paths the chart uses are in openapi.yaml", { skip: fs.existsSync(openapi) ? false : "no openapi.yaml yet" }, () => {
        const paths = Object.keys(YAML.parse(fs.readFileSync(openapi, "utf8")).paths);
        for (const p of ["/startupz", "/livez", "/readyz", "/pool/status", "/pool/ping", "/metrics", "/openapi.yaml"]) {
            assert.ok(paths.includes(p), `${p} is not in openapi.yaml`);
        }
    });
});

describe("connection budget guard", () => {
    // pods at once = replicas (or HPA maxReplicas) + surge; connections per pod = size + overflow
    const cases = [
        ["defaults: (2 + 1) x 30 = 90 <= 100", {}, true],
        ["exactly at the budget passes", { replicaCount: 3, database: { maxConnectionsBudget: 120 } }, true],
        ["4 replicas: (4 + 1) x 30 = 150 > 100", { replicaCount: 4 }, false, "5 pods x 30 connections (pool size + overflow) = 150 > database.maxConnectionsBudget 100"],
        ["overflow counts: (2 + 1) x (20 + 20) = 120 > 100", { pool: { maxOverflow: 20 } }, false, "3 pods x 40 connections (pool size + overflow) = 120 > database.maxConnectionsBudget 100"],
        ["HPA uses maxReplicas: (5 + 1) x 30 = 180 > 100", { autoscaling: { enabled: true, maxReplicas: 5 } }, false, "6 pods x 30 connections (pool size + overflow) = 180 > database.maxConnectionsBudget 100"],
        ["percent surge rounds up: 3 + ceil(3 x 10%) = 4 pods x 30 = 120", { replicaCount: 3, updateStrategy: { rollingUpdate: { maxSurge: "10%" } }, database: { maxConnectionsBudget: 119 } }, false, "4 pods x 30 connections (pool size + overflow) = 120 > database.maxConnectionsBudget 119"],
        ["Recreate has no surge: 3 x 30 = 90", { replicaCount: 3, updateStrategy: { type: "Recreate" } }, true],
        ["development profile uses the *Dev sizes: 7 x 15 = 105 > 100", { replicaCount: 6, server: { env: "development" } }, false, "7 pods x 15 connections (pool size + overflow) = 105 > database.maxConnectionsBudget 100"],
        ["PgBouncer counted: 90 + 5 x 2 = 100 passes", { pgbouncer: { defaultPoolSize: 5, instances: 2 } }, true],
        ["PgBouncer counted: 90 + 20 x 3 = 150 > 100", { pgbouncer: { hosts: "pgbouncer.db.svc:6432", defaultPoolSize: 20, instances: 3 } }, false, "3 pods x 30 connections (pool size + overflow) = 90, plus PgBouncer's default_pool_size 20 x 3 instances = 60, is 150 > database.maxConnectionsBudget 100"],
        ["PgBouncer without instances is not counted", { pgbouncer: { defaultPoolSize: 50 } }, true],
    ];
    for (const [name, values, ok, message] of cases) {
        test(name, () => {
            const r = render({ values: [values] });
            assert.equal(r.ok, ok, r.stderr);
            if (!ok) {
                assert.ok(r.stderr.includes(`connection budget exceeded: ${message}`), r.stderr);
            }
        });
    }

    const overFiles = fs.readdirSync(VALUES_DIR).filter((f) => f.startsWith("over-budget-")).sort();
    test("the over-budget values files exist", () => assert.ok(overFiles.length >= 2));
    for (const f of overFiles) {
        test(`${f} fails to render with the budget message`, () => {
            const r = render({ values: [path.join(VALUES_DIR, f)] });
            assert.equal(r.ok, false);
            assert.match(r.stderr, /connection budget exceeded: \d+ pods x \d+ connections/);
            const expected = YAML.parse(fs.readFileSync(path.join(VALUES_DIR, f), "utf8").match(/^# expect: (.*)$/m)[1]);
            assert.ok(r.stderr.includes(expected), `expected "${expected}" in ${r.stderr}`);
        });
    }
});

describe("NOTES.txt", () => {
    test("prints the port-forward and the curl commands to try", () => {
        const r = render({ notes: true });
        assert.ok(r.ok, r.stderr);
        for (const s of [
            "kubectl -n prod port-forward svc/tspool 8080:8080",
            "curl -s http://127.0.0.1:8080/readyz?verbose",
            "curl -s http://127.0.0.1:8080/pool/status",
            "curl -s http://127.0.0.1:8080/metrics",
            "use up to 90 of the 100 connections budgeted",
            "helm test tspool -n prod",
        ]) {
            assert.ok(r.stdout.includes(s), `missing: ${s}\n${r.stdout}`);
        }
    });

    test("with a read token the curl commands send it", () => {
        const r = render({ notes: true, values: [{ secrets: { readToken: "t" } }] });
        assert.ok(r.ok, r.stderr);
        assert.match(r.stdout, /-o jsonpath='\{\.data\.read-token\}'/);
        assert.match(r.stdout, /curl -s -H "Authorization: Bearer \$TOKEN" http:\/\/127\.0\.0\.1:8080\/pool\/status/);
    });
});
