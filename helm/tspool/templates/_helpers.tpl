{{/* _helpers.tpl - names, labels, the environment table, secret mounts and the guards that fail
rendering (connection budget, shutdown timing). */}}

{{- define "tspool.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tspool.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tspool.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tspool.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tspool.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tspool.labels" -}}
helm.sh/chart: {{ include "tspool.chart" . }}
{{ include "tspool.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tspool.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tspool.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tspool.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "tspool.secretName" -}}
{{- default (include "tspool.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The secrets mounted as files, as a JSON list of {env, key}: with an existing Secret every
non-empty key name; with the chart's Secret only the keys that have a value. */}}
{{- define "tspool.secretItems" -}}
{{- $s := .Values.secrets }}
{{- $rows := list (list "DB_PASS_FILE" $s.keys.dbPassword $s.dbPassword) (list "TSPOOL_ADMIN_TOKEN_FILE" $s.keys.adminToken $s.adminToken) (list "TSPOOL_READ_TOKEN_FILE" $s.keys.readToken $s.readToken) (list "PGBOUNCER_PASS_FILE" $s.keys.pgbouncerPassword $s.pgbouncerPassword) }}
{{- $items := list }}
{{- range $rows }}
{{- $key := index . 1 }}
{{- /* the PgBouncer password is mounted only when there is a PgBouncer to use it */ -}}
{{- $used := or (ne (index . 0) "PGBOUNCER_PASS_FILE") $.Values.pgbouncer.hosts }}
{{- if and $key $used (or $s.existingSecret (index . 2)) }}
{{- $items = append $items (dict "env" (index . 0) "key" $key) }}
{{- end }}
{{- end }}
{{- toJson $items }}
{{- end }}

{{/* Pool size and overflow one pod really uses (the development profile applies the *Dev sizes). */}}
{{- define "tspool.connsPerPod" -}}
{{- $p := .Values.pool }}
{{- if eq .Values.server.env "development" }}
{{- add $p.maxConnsDev $p.maxOverflowDev }}
{{- else }}
{{- add $p.maxConns $p.maxOverflow }}
{{- end }}
{{- end }}

{{/* Most pods that can run at once: replicas (maxReplicas with the HPA) plus the rolling-update
surge, because old and new pods hold connections side by side during a rollout. */}}
{{- define "tspool.maxPods" -}}
{{- $replicas := int .Values.replicaCount }}
{{- if .Values.autoscaling.enabled }}
{{- $replicas = int .Values.autoscaling.maxReplicas }}
{{- end }}
{{- $surge := 0 }}
{{- if eq .Values.updateStrategy.type "RollingUpdate" }}
{{- $s := .Values.updateStrategy.rollingUpdate.maxSurge }}
{{- if kindIs "string" $s }}
{{- $pct := int (trimSuffix "%" $s) }}
{{- $surge = div (add (mul $replicas $pct) 99) 100 }}
{{- else }}
{{- $surge = int $s }}
{{- end }}
{{- end }}
{{- add $replicas $surge }}
{{- end }}

{{/* Fails rendering when the release could open more connections than the database budget. */}}
{{- define "tspool.validate" -}}
{{- $pods := int (include "tspool.maxPods" .) }}
{{- $per := int (include "tspool.connsPerPod" .) }}
{{- $total := mul $pods $per }}
{{- $budget := int .Values.database.maxConnectionsBudget }}
{{- $pgb := .Values.pgbouncer }}
{{- $pgbConns := 0 }}
{{- if and $pgb (not (kindIs "invalid" $pgb.defaultPoolSize)) (not (kindIs "invalid" $pgb.instances)) }}
{{- $pgbConns = mul (int $pgb.defaultPoolSize) (int $pgb.instances) }}
{{- end }}
{{- if gt (add $total $pgbConns) $budget }}
{{- if gt $pgbConns 0 }}
{{- fail (printf "connection budget exceeded: %d pods x %d connections (pool size + overflow) = %d, plus PgBouncer's default_pool_size %d x %d instances = %d, is %d > database.maxConnectionsBudget %d; lower the pool sizes, the replicas or the surge, or raise the budget" $pods $per $total (int $pgb.defaultPoolSize) (int $pgb.instances) $pgbConns (add $total $pgbConns) $budget) }}
{{- else }}
{{- fail (printf "connection budget exceeded: %d pods x %d connections (pool size + overflow) = %d > database.maxConnectionsBudget %d; lower the pool size, the replicas or the surge, or raise the budget" $pods $per $total $budget) }}
{{- end }}
{{- end }}
{{- $sd := .Values.shutdown }}
{{- $tgps := int (include "tspool.terminationGracePeriodSeconds" .) }}
{{- if le $tgps (add $sd.delaySeconds $sd.graceSeconds | int) }}
{{- fail (printf "shutdown.terminationGracePeriodSeconds %d must exceed shutdown.delaySeconds + shutdown.graceSeconds (%d)" $tgps (add $sd.delaySeconds $sd.graceSeconds | int)) }}
{{- end }}
{{- if and $sd.preStopSleep (semverCompare "<1.30.0-0" .Capabilities.KubeVersion.Version) }}
{{- fail "shutdown.preStopSleep needs the preStop sleep action of Kubernetes 1.30 or later" }}
{{- end }}
{{- $size := .Values.pool.maxConns }}
{{- if eq .Values.server.env "development" }}
{{- $size = .Values.pool.maxConnsDev }}
{{- end }}
{{- if gt (int .Values.pool.minConns) (int $size) }}
{{- fail (printf "pool.minConns %d exceeds the pool size %d (DB_MIN_CONNS is at most the pool size)" (int .Values.pool.minConns) (int $size)) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- end }}

{{- define "tspool.terminationGracePeriodSeconds" -}}
{{- $sd := .Values.shutdown }}
{{- $explicit := index $sd "terminationGracePeriodSeconds" }}
{{- if kindIs "invalid" $explicit }}
{{- add $sd.delaySeconds $sd.graceSeconds $sd.extraGraceSeconds }}
{{- else }}
{{- int $explicit }}
{{- end }}
{{- end }}

{{/* TSPOOL_PROBE_LISTEN for server.probePort, or nothing (an empty string is left out). */}}
{{- define "tspool.probeListen" -}}
{{- $pp := index .Values.server "probePort" }}
{{- if not (kindIs "invalid" $pp) }}
{{- printf "0.0.0.0:%d" (int $pp) }}
{{- end }}
{{- end }}

{{/* The ConfigMap's variables as a dict; null values are left out (the service default applies).
Nullable values are read with index: Helm versions differ in whether a null default survives. */}}
{{- define "tspool.env" -}}
{{- $d := .Values.database }}
{{- $p := .Values.pool }}
{{- $s := .Values.server }}
{{- $delay := .Values.shutdown.delaySeconds }}
{{- if .Values.shutdown.preStopSleep }}
{{- $delay = 0 }}
{{- end }}
{{- $env := dict
  "DB_HOST" $d.host "DB_PORT" $d.port "DB_NAME" $d.name "DB_USER" $d.user
  "DB_CONNECT_TIMEOUT" $d.connectTimeout "DB_STATEMENT_TIMEOUT_MS" (index $d "statementTimeoutMs")
  "DB_SSLMODE" $d.sslmode "DB_APPLICATION_NAME" $d.applicationName
  "DB_TARGET_SESSION_ATTRS" (index $d "targetSessionAttrs") "DB_SESSION_SETTINGS" (index $d "sessionSettings")
  "DB_POOL_MODE" $p.mode "DB_MAX_CONNS" $p.maxConns "DB_MAX_OVERFLOW" $p.maxOverflow
  "DB_MAX_CONNS_DEV" $p.maxConnsDev "DB_MAX_OVERFLOW_DEV" $p.maxOverflowDev
  "DB_MIN_CONNS" $p.minConns "DB_POOL_RECYCLE" $p.recycleSeconds "DB_POOL_TIMEOUT" $p.timeoutSeconds
  "DB_IDLE_TIMEOUT" (index $p "idleTimeoutSeconds") "DB_SLOW_QUERY_MS" $p.slowQueryMs
  "DB_LEAK_DETECTION_MS" $p.leakDetectionMs "DB_PREPING_IDLE_MS" (index $p "prepingIdleMs")
  "TSPOOL_ENV" $s.env "TSPOOL_LISTEN" (printf "0.0.0.0:%d" (int $s.port))
  "TSPOOL_PUBLIC_PROBES" $s.publicProbes "TSPOOL_PUBLIC_METRICS" $s.publicMetrics
  "TSPOOL_LOG_FORMAT" $s.logFormat "TSPOOL_LOG_LEVEL" $s.logLevel
  "TSPOOL_HTTP_THREADS" (index $s "httpThreads") "TSPOOL_HTTP_KEEP_ALIVE_MS" (index $s "httpKeepAliveMs")
  "TSPOOL_HTTP_REQUEST_TIMEOUT_MS" (index $s "httpRequestTimeoutMs")
  "TSPOOL_HTTP_CONNECTION_QUEUE" (index $s "httpConnectionQueue")
  "TSPOOL_HEALTH_INTERVAL_MS" (index $s "healthIntervalMs") "TSPOOL_STATS_LOG_INTERVAL" (index $s "statsLogIntervalSeconds")
  "TSPOOL_READY_MAX_WAITING" (index $s "readyMaxWaiting")
  "TSPOOL_READY_MAX_CHECK_AGE_MS" (index $s "readyMaxCheckAgeMs")
  "TSPOOL_HTTP_DB_MAX_INFLIGHT" (index $s "httpDbMaxInflight")
  "DB_STATEMENT_DEADLINE_MS" (index $d "statementDeadlineMs") "TSPOOL_LOCK_TIMEOUT_MS" (index $d "lockTimeoutMs")
  "TSPOOL_TIMESCALEDB_REFRESH_MS" (index $s "timescaledbRefreshMs")
  "TSPOOL_ACTIVITY_INTERVAL_MS" (index $s "activityIntervalMs")
  "TSPOOL_STATEMENTS_INTERVAL_MS" (index $s "statementsIntervalMs")
  "TSPOOL_QUERY_TEXT_MAX" (index $s "queryTextMax")
  "TSPOOL_SHUTDOWN_DELAY" $delay "TSPOOL_SHUTDOWN_GRACE" .Values.shutdown.graceSeconds
  "DB_READ_HOSTS" .Values.readReplicas.hosts "DB_READ_PORT" (index .Values.readReplicas "port")
  "DB_READ_MAX_CONNS" (index .Values.readReplicas "maxConns")
  "DB_READ_MAX_LAG_BYTES" (index .Values.readReplicas "maxLagBytes")
  "DB_READ_MAX_LAG_MS" (index .Values.readReplicas "maxLagMs") "DB_READ_FALLBACK" .Values.readReplicas.fallback
  "PGBOUNCER_HOSTS" .Values.pgbouncer.hosts "PGBOUNCER_USER" .Values.pgbouncer.user
  "PGBOUNCER_REFRESH_MS" (index .Values.pgbouncer "refreshMs")
  "PGBOUNCER_CONNECT_TIMEOUT" (index .Values.pgbouncer "connectTimeout")
  "PGBOUNCER_COMMAND_TIMEOUT_MS" (index .Values.pgbouncer "commandTimeoutMs")
  "TSPOOL_READY_PGBOUNCER" .Values.pgbouncer.readinessCheck
}}
{{- with include "tspool.probeListen" . }}
{{- $_ := set $env "TSPOOL_PROBE_LISTEN" . }}
{{- end }}
{{- range $k, $v := .Values.extraEnv }}
{{- $_ := set $env $k $v }}
{{- end }}
{{- range $k, $v := $env }}
{{- if not (kindIs "invalid" $v) }}
{{- if kindIs "float64" $v }}
{{ $k }}: {{ int64 $v | toString | quote }}
{{- else }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
