/* app.js - the tspool dashboard: polls this service's own endpoints (pool status, probes,
 * server activity, TimescaleDB reads) and renders them with DOM APIs only (no innerHTML, no dependencies).
 * SPDX-License-Identifier: MIT */
'use strict';

(() => {
    const POLL_MS = 2000;           /* plain /pool/status and the probes */
    const DETAIL_EVERY = 2;         /* every 2nd poll asks for ?detailed=true (one DB round trip) */
    const TIMESCALE_MS = 30000;     /* TimescaleDB reads every 30 s, beside the main loop */
    const HISTORY_MS = 5 * 60 * 1000;
    const REQUEST_TIMEOUT_MS = 8000;
    const CHUNK_PAGE = 50;             /* chunks per page of the chunk list (GET .../chunks?limit=) */
    const TIMESCALE_TIMEOUT_MS = 30000; /* catalog reads can be slow; they never mean "down" */
    const MAX_BACKOFF_MS = 30000;
    const TOKEN_KEY = 'tspool.readToken';
    const SVG_NS = 'http://www.w3.org/2000/svg';

    const state = {
        tick: 0,
        probes: null,    /* last probe results: {name, ok, failed: [check lines]} */
        announced: '',   /* the last state told to screen readers */
        history: [],     /* {t, in_use, idle, waiting, size, max} */
        last: null,      /* last pool status document */
        down: false,
        failures: 0,
        waitingForToken: false,
        tokenRejected: false,
        tsEndpoints: null, /* null: not known yet; true/false from the compiled-in openapi.yaml */
        chunkPage: 0,      /* the page of the chunk list on show */
        tsDue: true,       /* read TimescaleDB at the next poll (start, token, recovery) */
        tsLast: 0,         /* when the last TimescaleDB read finished */
        tsBusy: false,     /* a TimescaleDB read is running */
        lag: new Map(),    /* replica host -> [{t, bytes}] for the lag sparklines */
        timer: null,
    };

    class DownError extends Error {}
    /* no answer in time: the service may be down, or just slow on one read */
    class TimeoutError extends DownError {}
    class AuthError extends Error {}
    class HttpError extends Error {
        constructor(status, body, text) {
            const detail = body && typeof body === 'object' && body.detail ? body.detail : text;
            super(`HTTP ${status}${detail ? ': ' + detail : ''}`);
            this.status = status;
            this.body = body;
        }
    }

    const $ = (id) => document.getElementById(id);

    /* Tell screen readers about a change of state (ready, not ready, down), not every poll. */
    function announce(text) {
        if (state.announced !== text) {
            state.announced = text;
            $('announce').textContent = text;
        }
    }

    /* ---- HTTP ------------------------------------------------------------------------ */

    function readToken() {
        try {
            return sessionStorage.getItem(TOKEN_KEY) || '';
        } catch (e) {
            return '';
        }
    }

    async function request(path, accept, timeoutMs = REQUEST_TIMEOUT_MS) {
        const headers = {Accept: accept || 'application/json'};
        const token = readToken();
        if (token) {
            headers.Authorization = 'Bearer ' + token;
        }
        const ctl = new AbortController();
        const timer = setTimeout(() => ctl.abort(), timeoutMs);
        let res;
        try {
            res = await fetch(path, {headers, signal: ctl.signal, cache: 'no-store',
                                     credentials: 'omit'});
        } catch (e) {
            if (e && e.name === 'AbortError') {
                throw new TimeoutError(`no answer within ${Math.round(timeoutMs / 1000)} s`);
            }
            throw new DownError('connection refused or reset');
        } finally {
            clearTimeout(timer);
        }
        if (res.status === 401) {
            throw new AuthError('token required');
        }
        return res;
    }

    async function getJson(path, timeoutMs) {
        const res = await request(path, 'application/json', timeoutMs);
        const text = await res.text();
        let body = null;
        try {
            body = text ? JSON.parse(text) : null;
        } catch (e) {
            body = null;
        }
        if (!res.ok) {
            throw new HttpError(res.status, body, text);
        }
        return body;
    }

    /* ---- formatting -------------------------------------------------------------------- */

    function num(v) {
        return typeof v === 'number' && isFinite(v) ? String(v) : '–';
    }

    function duration(s) {
        if (typeof s !== 'number' || !isFinite(s)) {
            return '–';
        }
        if (s < 1) {
            return `${Math.round(s * 1000)} ms`;
        }
        if (s < 60) {
            return `${s.toFixed(1)} s`;
        }
        if (s < 3600) {
            return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
        }
        if (s < 86400) {
            return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
        }
        return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
    }

    function bytes(n) {
        if (typeof n !== 'number' || !isFinite(n) || n < 0) {
            return '–';
        }
        const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
        let i = 0;
        while (n >= 1024 && i < units.length - 1) {
            n /= 1024;
            i++;
        }
        return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
    }

    function when(text) {
        if (!text) {
            return '–';
        }
        const d = new Date(text);
        return isNaN(d.getTime()) ? String(text) : d.toLocaleString();
    }

    function qualified(schema, name) {
        if (!name) {
            return '–';
        }
        return schema ? `${schema}.${name}` : name;
    }

    /* ---- DOM helpers ------------------------------------------------------------------- */

    function el(tag, attrs, ...children) {
        const node = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (k === 'class') {
                node.className = v;
            } else {
                node.setAttribute(k, v);
            }
        }
        for (const c of children) {
            node.append(c instanceof Node ? c : document.createTextNode(String(c)));
        }
        return node;
    }

    function svg(tag, attrs) {
        const node = document.createElementNS(SVG_NS, tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            node.setAttribute(k, String(v));
        }
        return node;
    }

    function setText(id, text, alert) {
        const node = $(id);
        if (node) {
            node.textContent = text;
            node.classList.toggle('alert', Boolean(alert));
        }
    }

    /* A horizontal bar (0..1) with its meaning as text for screen readers. */
    function bar(fraction, label) {
        const f = Math.max(0, Math.min(1, fraction || 0));
        const fill = el('span');
        fill.style.width = `${(f * 100).toFixed(1)}%`;
        return el('span', {class: 'bar', role: 'img', 'aria-label': label}, fill);
    }

    function fillTable(id, rows, emptyText) {
        const table = $(id);
        const tbody = table.tBodies[0];
        const cols = table.tHead.rows[0].cells.length;
        const out = [];
        for (const cells of rows) {
            out.push(el('tr', {}, ...cells.map((c) => el('td', {}, c))));
        }
        if (out.length === 0) {
            out.push(el('tr', {}, el('td', {class: 'empty', colspan: String(cols)}, emptyText)));
        }
        tbody.replaceChildren(...out);
    }

    /* ---- service down / token ---------------------------------------------------------- */

    function backoffMs() {
        return Math.min(MAX_BACKOFF_MS, POLL_MS * Math.pow(2, Math.max(0, state.failures - 1)));
    }

    function setDown(reason) {
        state.down = true;
        state.failures++;
        const banner = $('banner');
        banner.textContent = `Service down: tspool is not answering (${reason}). ` +
                             `Retrying every ${Math.round(backoffMs() / 1000)} s…`;
        banner.hidden = false;
        $('summary').textContent = 'Service down';
        document.title = 'tspool: service down';
        state.announced = 'down'; /* the banner is an alert already; announce the recovery */
    }

    function setUp() {
        if (state.down) {
            state.tsDue = true; /* things may have changed while we could not look */
        }
        state.down = false;
        state.failures = 0;
        $('banner').hidden = true;
        $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    }

    function askToken() {
        state.waitingForToken = true;
        const form = $('token-form');
        const err = $('token-error');
        if (readToken()) {
            err.textContent = 'The stored token was rejected; enter the read token again.';
            err.hidden = false;
            try {
                sessionStorage.removeItem(TOKEN_KEY);
            } catch (e) {
                /* storage disabled: the token lives only in this page */
            }
        }
        $('summary').textContent = 'Read token required';
        if (form.hidden) {
            form.hidden = false;
            $('token-input').focus();
        }
    }

    function onTokenSubmit(ev) {
        ev.preventDefault();
        const input = $('token-input');
        const value = input.value.trim();
        if (!value) {
            input.focus();
            return;
        }
        try {
            sessionStorage.setItem(TOKEN_KEY, value);
        } catch (e) {
            /* storage disabled: nothing to keep */
        }
        input.value = '';
        $('token-form').hidden = true;
        $('token-error').hidden = true;
        state.waitingForToken = false;
        state.tsDue = true;
        schedule(0);
    }

    /* ---- pool ------------------------------------------------------------------------- */

    function record(doc) {
        const now = Date.now();
        const g = doc.gauges || {};
        const c = doc.config || {};
        state.history.push({t: now, in_use: g.in_use || 0, idle: g.idle || 0,
                            waiting: g.waiting || 0, size: c.size || 0,
                            max: (c.size || 0) + (c.max_overflow || 0)});
        while (state.history.length > 0 && state.history[0].t < now - HISTORY_MS) {
            state.history.shift();
        }
    }

    function renderPool(doc) {
        const g = doc.gauges || {};
        const c = doc.config || {};
        const k = doc.counters || {};
        setText('g-in_use', num(g.in_use));
        setText('g-idle', num(g.idle));
        setText('g-waiting', num(g.waiting), g.waiting > 0);
        setText('g-open', num(g.open));
        setText('g-limits', `${num(c.size)} + ${num(c.max_overflow)}`);
        setText('g-mode', `${doc.mode || '–'}${doc.paused ? ' (paused)' : ''}`, doc.paused);
        setText('c-borrow_timeouts', num(k.borrow_timeouts), k.borrow_timeouts > 0);
        setText('c-slow_operations', num(k.slow_operations), k.slow_operations > 0);
        setText('c-borrows', num(k.borrows));
        setText('c-waited_borrows', num(k.waited_borrows));
        setText('c-leaks_detected', num(k.leaks_detected), k.leaks_detected > 0);
        setText('c-connect_failures', num(k.connect_failures), k.connect_failures > 0);
        drawChart();
    }

    function renderConnections(doc) {
        const conns = Array.isArray(doc.connections) ? doc.connections.slice() : [];
        conns.sort((a, b) => (a.id || 0) - (b.id || 0));
        fillTable('conns', conns.map((x) => [
            num(x.id), `${x.state || '–'}${x.overflow ? ' (overflow)' : ''}`, x.holder || '–',
            x.holder ? duration(x.held_s) : '–', duration(x.age_s), duration(x.idle_s),
            num(x.uses), x.backend_pid ? String(x.backend_pid) : '–',
        ]), 'No connections are open.');
    }

    function renderServer(doc) {
        const s = doc.server;
        const note = $('server-note');
        if (!s) {
            note.textContent = `The server's view is unavailable: ${doc.server_error || 'no answer'}`;
            note.classList.add('bad');
            $('server-stats').hidden = true;
            fillTable('apps', [], 'Unavailable while the database cannot be reached.');
            return;
        }
        note.classList.remove('bad');
        const max = s.max_connections || 0;
        const reserved = (s.superuser_reserved_connections || 0) + (s.reserved_connections || 0);
        note.textContent = s.headroom_at_full_pool < 0
            ? `At full pool this deployment would need ${-s.headroom_at_full_pool} connections ` +
              'more than the server allows: "too many connections" ahead.'
            : `With the pool at its maximum, ${s.headroom_at_full_pool} connection slots stay ` +
              'free for everyone else.';
        $('server-stats').hidden = false;
        setText('s-max_connections', num(max));
        setText('s-reserved', num(reserved));
        setText('s-client_connections', num(s.client_connections));
        setText('s-ours', num(s.ours));
        setText('s-available', num(s.available), s.available <= 0);
        setText('s-headroom_at_full_pool', num(s.headroom_at_full_pool),
                s.headroom_at_full_pool < 0);
        const apps = Object.entries(s.by_application || {}).sort((a, b) => b[1] - a[1]);
        fillTable('apps', apps.map(([name, count]) => {
            const share = max > 0 ? count / max : 0;
            return [name || '(no application_name)', String(count),
                    el('span', {}, bar(share, `${Math.round(share * 100)}% of max_connections`),
                       `${(share * 100).toFixed(1)}%`)];
        }), 'No client connections.');
    }

    async function refreshPool() {
        const detailed = state.tick % DETAIL_EVERY === 1;
        const doc = await getJson(detailed ? '/pool/status?detailed=true' : '/pool/status');
        state.last = doc;
        record(doc);
        renderPool(doc);
        if (detailed) {
            renderConnections(doc);
            renderServer(doc);
            $('conns-note').textContent = `As of ${new Date().toLocaleTimeString()}.`;
            $('conns-note').hidden = false;
        }
    }

    /* ---- chart -------------------------------------------------------------------------- */

    function polyline(points, cls) {
        return svg('polyline', {class: cls, points: points.join(' ')});
    }

    /* The smallest 1-2-5 step that divides 0..max into at most 5 intervals. */
    function niceStep(max) {
        for (let scale = 1; ; scale *= 10) {
            for (const m of [1, 2, 5]) {
                if (max / (m * scale) <= 5) {
                    return m * scale;
                }
            }
        }
    }

    function tickLabel(ms) {
        const s = Math.round(ms / 1000);
        if (s === 0) {
            return 'now';
        }
        return s % 60 === 0 ? `-${s / 60} min` : `-${s} s`;
    }

    function drawChart() {
        const chart = $('chart');
        const width = Math.max(280, Math.round(chart.clientWidth || 600));
        const height = 220;
        const left = 34, right = 10, top = 10, bottom = 22;
        const now = Date.now();
        const h = state.history;
        chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
        /* the window grows minute by minute up to 5 minutes, so a fresh page shows its first
         * samples across the chart rather than squeezed against its right edge */
        const span = h.length > 0 ? now - h[0].t : 0;
        const windowMs = Math.min(HISTORY_MS, Math.max(60000, Math.ceil(span / 60000) * 60000));
        let peak = 1;
        for (const p of h) {
            peak = Math.max(peak, p.max, p.in_use, p.idle, p.waiting);
        }
        const ystep = niceStep(peak);
        const ymax = ystep * Math.ceil((peak + 0.5) / ystep);
        const x = (t) => left + (width - left - right) * (1 - (now - t) / windowMs);
        const y = (v) => top + (height - top - bottom) * (1 - v / ymax);
        const nodes = [];
        for (let v = 0; v <= ymax; v += ystep) {
            nodes.push(svg('line', {class: 'grid', x1: left, x2: width - right, y1: y(v), y2: y(v)}));
            const label = svg('text', {class: 'axis', x: left - 6, y: y(v) + 4,
                                       'text-anchor': 'end'});
            label.textContent = String(v);
            nodes.push(label);
        }
        const xstep = windowMs <= 60000 ? 15000 : windowMs <= 120000 ? 30000 : 60000;
        for (let ago = windowMs; ago >= 0; ago -= xstep) {
            const anchor = ago === windowMs ? 'start' : ago === 0 ? 'end' : 'middle';
            const label = svg('text', {class: 'axis', x: x(now - ago), y: height - 6,
                                       'text-anchor': anchor});
            label.textContent = tickLabel(ago);
            nodes.push(label);
        }
        /* a gap in polling (service down) breaks the lines instead of bridging it */
        const runs = [];
        let run = [];
        for (const p of h) {
            if (now - p.t > windowMs) {
                continue;
            }
            if (run.length > 0 && p.t - run[run.length - 1].t > 3 * POLL_MS + REQUEST_TIMEOUT_MS) {
                runs.push(run);
                run = [];
            }
            run.push(p);
        }
        if (run.length > 0) {
            runs.push(run);
        }
        const series = [['size', 'limit size'], ['max', 'limit max'], ['idle', 'line idle'],
                        ['waiting', 'line waiting'], ['in_use', 'line in-use']];
        for (const r of runs) {
            for (const [key, cls] of series) {
                const pts = r.map((p) => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`);
                if (pts.length === 1) {
                    pts.unshift(`${(x(r[0].t) - 3).toFixed(1)},${y(r[0][key]).toFixed(1)}`);
                }
                const line = polyline(pts, cls);
                line.dataset.series = key;
                nodes.push(line);
            }
        }
        chart.replaceChildren(...nodes);
        const minutes = windowMs / 60000;
        $('chart-caption').textContent = `Connections over the last ${minutes} minute` +
            `${minutes === 1 ? '' : 's'}: in use, idle and waiting, with the pool size and ` +
            'size + overflow limits as dashed lines.';
        const last = h[h.length - 1];
        if (last) {
            const most = h.reduce((m, p) => Math.max(m, p.in_use), 0);
            $('chart-now').textContent = `Now ${last.in_use} in use, ${last.idle} idle, ` +
                `${last.waiting} waiting (limits ${last.size} / ${last.max}); ` +
                `peak in use over the last 5 minutes: ${most}.`;
        }
    }

    /* ---- probes ------------------------------------------------------------------------- */

    const PROBES = [
        ['live', '/livez?verbose', 'live', 'not live'],
        ['ready', '/readyz?verbose', 'ready', 'not ready'],
        ['startup', '/startupz?verbose', 'started', 'not started'],
    ];

    async function refreshProbe([name, path, okText, badText]) {
        const res = await request(path, 'text/plain');
        const text = await res.text();
        const box = $(`probe-${name}`);
        const badge = box.querySelector('.state');
        const items = [];
        for (const line of text.split('\n')) {
            const m = /^\[([+-])\](\S+) (.*)$/.exec(line);
            if (m) {
                items.push(el('li', {class: m[1] === '+' ? 'ok' : 'failed'}, `${m[2]} ${m[3]}`));
            }
        }
        if (items.length === 0 && res.status !== 200) {
            /* not the probe's own text: a problem document (e.g. 503 while the server drains) */
            let detail = `HTTP ${res.status}`;
            try {
                const problem = JSON.parse(text);
                detail = problem.detail || problem.title || detail;
            } catch (e) {
                /* plain text or nothing: the status says enough */
            }
            items.push(el('li', {class: 'failed'}, `server ${detail}`));
        }
        box.querySelector('.checks').replaceChildren(...items);
        const ok = res.status === 200;
        badge.dataset.state = ok ? 'ok' : 'failed';
        badge.textContent = ok ? okText : badText;
        return {name, ok, failed: items.filter((i) => i.className === 'failed')
                                     .map((i) => i.textContent)};
    }

    async function refreshProbes() {
        state.probes = await Promise.all(PROBES.map(refreshProbe));
    }

    /* One line at the top: readiness (naming the failing checks) and the pool's use. */
    function renderSummary() {
        const results = state.probes || [];
        const notOk = results.filter((r) => !r.ok);
        const doc = state.last;
        const pool = doc && doc.gauges && doc.config
            ? ` · ${doc.gauges.in_use} in use of ${doc.config.size} (+${doc.config.max_overflow} overflow)`
            : '';
        const summary = $('summary');
        if (results.length === 0) {
            return;
        }
        if (notOk.length === 0) {
            summary.textContent = `Ready${pool}`;
            summary.className = 'summary ok';
            document.title = 'tspool: ready';
            announce('tspool ready');
        } else {
            const names = [];
            for (const r of notOk) {
                for (const f of r.failed) {
                    const name = f.split(' ')[0];
                    if (!names.includes(name)) {
                        names.push(name);
                    }
                }
                if (r.failed.length === 0) {
                    names.push(r.name);
                }
            }
            summary.textContent = `Not ready (${names.join(', ')} failing)${pool}`;
            summary.className = 'summary bad';
            document.title = 'tspool: not ready';
            announce(`tspool not ready: ${names.join(', ')} failing`);
        }
    }

    /* ---- TimescaleDB -------------------------------------------------------------------- */

    /* A list response: a bare array, or an object holding it under `key` (or its only array). */
    function listOf(body, key) {
        if (Array.isArray(body)) {
            return body;
        }
        if (body && typeof body === 'object') {
            if (Array.isArray(body[key])) {
                return body[key];
            }
            return Object.values(body).find(Array.isArray) || [];
        }
        return [];
    }

    function tsNote(text, showBody) {
        $('ts-note').textContent = text;
        $('ts-body').hidden = !showBody;
    }

    /* The compiled-in contract says whether this build has the TimescaleDB endpoints, so the
     * page never probes a path that does not exist. */
    async function timescaleEndpoints() {
        if (state.tsEndpoints === null) {
            const res = await request('/openapi.yaml', 'application/yaml', TIMESCALE_TIMEOUT_MS);
            const text = res.ok ? await res.text() : '';
            state.tsEndpoints = /^ {2}\/timescaledb:/m.test(text) && /^ {2}\/hypertables:/m.test(text);
        }
        return state.tsEndpoints;
    }

    function renderHypertables(list) {
        fillTable('hypertables', list.map((h) => {
            const comp = h.compression || {};
            const ratio = typeof comp.ratio === 'number' ? comp.ratio
                : comp.before_bytes > 0 && comp.after_bytes > 0 ? comp.before_bytes / comp.after_bytes
                    : null;
            const compressed = h.compression_enabled
                ? `${num(comp.compressed_chunks)} of ${num(h.num_chunks)}` : 'off';
            /* the bar is the share of space saved; tiny tables can grow when compressed */
            const saved = ratio ? 1 - 1 / ratio : 0;
            const ratioCell = ratio
                ? el('span', {}, bar(saved, saved >= 0 ? `saves ${Math.round(saved * 100)}%`
                                                       : `grows by ${Math.round(-saved * 100)}%`),
                     `${ratio.toFixed(1)}×`)
                : '–';
            const name = qualified(h.schema, h.name);
            const open = el('button', {type: 'button', class: 'link', 'data-ht': name,
                                       title: `List the chunks of ${name}`}, name);
            open.addEventListener('click', () => showChunks(name, null));
            return [open, num(h.num_chunks), compressed, bytes(h.total_bytes), ratioCell];
        }), 'No hypertables in this database.');
        const policies = [];
        for (const h of list) {
            for (const p of h.policies || []) {
                const setting = p.compress_after ? `compress after ${p.compress_after}`
                    : p.drop_after ? `drop after ${p.drop_after}`
                    : p.index_name ? `cluster on ${p.index_name}`
                        : p.kind === 'refresh' ? `${p.start_offset || '–'} … ${p.end_offset || '–'}` : '–';
                policies.push([qualified(h.schema, h.name), p.kind || '–', setting,
                               `${p.schedule_interval || '–'}${p.scheduled === false ? ' (paused)' : ''}`,
                               num(p.job_id)]);
            }
        }
        fillTable('policies', policies, 'No compression or retention policies.');
    }

    /* One page of a hypertable's chunks; "next page" follows next_cursor (the service pages by
     * keyset, so a page costs the same however many chunks there are). */
    async function showChunks(name, cursor) {
        const query = `limit=${CHUNK_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        $('chunks-of').textContent = name;
        $('chunks-panel').hidden = false;
        let body;
        try {
            body = await getJson(`/hypertables/${encodeURIComponent(name)}/chunks?${query}`,
                                 TIMESCALE_TIMEOUT_MS);
        } catch (e) {
            fillTable('chunks', [], `Could not list the chunks: ${e.message}`);
            $('chunks-next').hidden = true;
            return;
        }
        state.chunkPage = cursor ? state.chunkPage + 1 : 1;
        $('chunks-page').textContent = `page ${state.chunkPage}`;
        fillTable('chunks', (body.chunks || []).map((c) => [
            qualified(c.schema, c.name), `${c.range_start ?? '–'} … ${c.range_end ?? '–'}`,
            c.compressed ? 'yes' : 'no', bytes(c.total_bytes)]), 'No chunks.');
        const next = $('chunks-next');
        next.hidden = !body.next_cursor;
        next.onclick = () => showChunks(name, body.next_cursor);
    }

    const jobFailing = (j) => /fail/i.test((j.job_stats || {}).last_run_status || '');

    /* Failing jobs first (then the most failures), so a broken policy is the first row. */
    function jobsFailingFirst(list) {
        return [...list].sort((a, b) => (jobFailing(b) - jobFailing(a)) ||
            (((b.job_stats || {}).total_failures || 0) - ((a.job_stats || {}).total_failures || 0)) ||
            (a.job_id - b.job_id));
    }

    /* The runs of one job (GET /jobs/{id}/history) below the jobs table. */
    async function showJobHistory(id) {
        const box = $('job-history');
        $('job-history-title').textContent = `Runs of job ${id}`;
        box.hidden = false;
        fillTable('job-history-table', [], 'Loading…');
        let body;
        try {
            body = await getJson(`/jobs/${encodeURIComponent(id)}/history`, TIMESCALE_TIMEOUT_MS);
        } catch (e) {
            fillTable('job-history-table', [], `The history is not available: ${e.message}`);
            return;
        }
        fillTable('job-history-table', listOf(body, 'runs').map((r) => [
            when(r.started_at), when(r.finished_at),
            el('span', {class: r.outcome === 'failure' ? 'pill-bad' : ''}, r.outcome || '–'),
            r.source === 'tspool' ? `tspool (request ${r.request_id || '–'})` : 'scheduler',
            r.error ? `${r.sqlstate ? `${r.sqlstate}: ` : ''}${r.error}` : '–',
        ]), `Job ${id} has no recorded runs (the server keeps failures, and successes only with ` +
            'timescaledb.enable_job_execution_logging).');
        announce(`history of job ${id} shown`);
    }

    function jobButton(id) {
        const b = el('button', {type: 'button', class: 'link', title: `Show the runs of job ${id}`,
                                'aria-label': `Show the runs of job ${id}`}, num(id));
        b.addEventListener('click', () => {
            showJobHistory(id).catch(() => {});
        });
        return b;
    }

    function renderJobs(list) {
        fillTable('jobs', jobsFailingFirst(list).map((j) => {
            const s = j.job_stats || {};
            const status = s.last_run_status || 'never run';
            const last = el('span', {class: /fail/i.test(status) ? 'pill-bad' : ''}, status);
            const lastCell = s.last_run_started_at
                ? el('span', {}, last, ` (${when(s.last_run_started_at)})`) : last;
            return [jobButton(j.job_id), qualified(j.proc_schema, j.proc_name),
                    j.hypertable ? qualified(j.hypertable_schema, j.hypertable) : '–',
                    `${j.schedule_interval || '–'}${j.scheduled === false ? ' (paused)' : ''}`,
                    lastCell, when(s.next_start), `${num(s.total_failures)} of ${num(s.total_runs)}`];
        }), 'No jobs.');
    }

    function renderAggregates(list) {
        fillTable('aggregates', list.map((a) => {
            const p = a.refresh_policy;
            const policy = p
                ? `${p.start_offset || 'unbounded'} … ${p.end_offset || 'unbounded'}, every ${p.schedule_interval || '–'}`
                : 'none';
            return [qualified(a.schema, a.name), qualified(a.hypertable_schema, a.hypertable),
                    a.bucket || '–', policy, when(a.last_refresh)];
        }), 'No continuous aggregates.');
    }

    async function refreshTimescale() {
        if (!(await timescaleEndpoints())) {
            tsNote('This tspool build has no TimescaleDB endpoints, so there is nothing to show here.',
                   false);
            return;
        }
        let caps;
        try {
            caps = await getJson('/timescaledb', TIMESCALE_TIMEOUT_MS);
        } catch (e) {
            if (e instanceof HttpError) {
                tsNote(`TimescaleDB is not available: ${e.message}`, false);
                return;
            }
            throw e;
        }
        if (!caps || !caps.installed) {
            const db = caps && caps.database ? ` in database ${caps.database}` : '';
            tsNote(`The timescaledb extension is not installed${db}; hypertables, policies, jobs ` +
                   'and continuous aggregates appear here once it is.', false);
            return;
        }
        const f = caps.features || {};
        const warnings = Array.isArray(caps.warnings) && caps.warnings.length
            ? ` Warning: ${caps.warnings.join(' ')}` : '';
        tsNote(`TimescaleDB ${caps.version || ''} (license ${caps.license || 'unknown'})` +
               `${caps.database ? ` in database ${caps.database}` : ''}.${warnings}`, true);
        const [hts, jobs, aggs] = await Promise.all([
            getJson('/hypertables', TIMESCALE_TIMEOUT_MS),
            f.jobs === false ? null : getJson('/jobs', TIMESCALE_TIMEOUT_MS),
            f.continuous_aggregates === false ? null : getJson('/aggregates', TIMESCALE_TIMEOUT_MS),
        ]);
        renderHypertables(listOf(hts, 'hypertables'));
        if (jobs === null) {
            fillTable('jobs', [], 'Jobs are not available with this TimescaleDB license.');
        } else {
            renderJobs(listOf(jobs, 'jobs'));
        }
        if (aggs === null) {
            fillTable('aggregates', [],
                      'Continuous aggregates are not available with this TimescaleDB license.');
        } else {
            renderAggregates(listOf(aggs, 'aggregates'));
        }
    }

    /* ---- server activity ---------------------------------------------------------------- */

    const SESSIONS_SHOWN = 50;

    function activityNote(text, showBody) {
        $('activity-note').textContent = text;
        $('activity-note').hidden = !text;
        $('activity-body').hidden = !showBody;
    }

    function waitOf(s) {
        return s.wait_event_type ? `${s.wait_event_type}: ${s.wait_event || ''}` : '–';
    }

    function queryOf(s) {
        return typeof s.query === 'string' ? s.query.replace(/\s+/g, ' ') : 'hidden (admin token)';
    }

    /* One node of the blocking forest: the session, then whom it blocks (nested). */
    function chainItem(node) {
        const label = `pid ${node.pid} · ${node.application_name || '(none)'} · ${node.state}` +
            ` · ${waitOf(node)} · ${duration(node.duration_ms / 1000)}`;
        const li = el('li', {}, el('span', {class: node.blocked_by && node.blocked_by.length
            ? 'chain-waiter' : 'chain-root'}, label), el('span', {class: 'chain-query'}, queryOf(node)));
        if (node.blocks && node.blocks.length) {
            li.append(el('ul', {}, ...node.blocks.map(chainItem)));
        }
        return li;
    }

    function renderActivity(doc) {
        const sum = doc.summary || {};
        $('a-sessions').textContent = num(sum.sessions);
        $('a-blocked').textContent = num(sum.blocked);
        $('a-oldest').textContent = sum.oldest_transaction_pid
            ? `${duration(sum.oldest_transaction_ms / 1000)} (pid ${sum.oldest_transaction_pid})` : '–';
        const sampled = new Date(doc.sampled_at);
        $('a-sampled').textContent = (isNaN(sampled.getTime()) ? '–' : sampled.toLocaleTimeString()) +
            (doc.last_sample_ok === false ? ` (last sample failed: ${doc.last_error})` : '');
        const roots = doc.blocking || [];
        $('blocking-tree').replaceChildren(...roots.map(chainItem));
        $('blocking-empty').hidden = roots.length > 0;
        fillTable('sessions', (doc.sessions || []).slice(0, SESSIONS_SHOWN).map((s) => [
            num(s.pid), s.application_name || '(none)', s.user || '–', s.state || '–', waitOf(s),
            duration(s.duration_ms / 1000),
            s.blocked_by && s.blocked_by.length ? s.blocked_by.join(', ') : '–',
            el('span', {class: 'chain-query'}, queryOf(s)),
        ]), 'No sessions.');
    }

    async function refreshActivity() {
        let doc;
        try {
            doc = await getJson('/server/activity');
        } catch (e) {
            if (e instanceof HttpError && e.status === 409) {
                activityNote('Server activity sampling is off (TSPOOL_ACTIVITY_INTERVAL_MS=0).', false);
                return;
            }
            if (e instanceof HttpError && e.status === 503) {
                activityNote(`No activity sample yet: ${e.message}`, false);
                return;
            }
            throw e;
        }
        activityNote(doc.query_text ? '' : 'Query texts are shown with the admin token.', true);
        renderActivity(doc);
    }

    /* ---- the cluster: primary, replicas, replication lag ---------------------------------- */

    function clusterNote(text, showBody) {
        $('cluster-note').textContent = text;
        $('cluster-body').hidden = !showBody;
    }

    /* Keep each replica's lag in bytes for HISTORY_MS. */
    function recordLag(doc) {
        const now = Date.now();
        for (const r of doc.replicas || []) {
            const list = state.lag.get(r.host) || [];
            list.push({t: now, bytes: typeof r.lag_bytes === 'number' ? r.lag_bytes : null});
            while (list.length > 0 && now - list[0].t > HISTORY_MS) {
                list.shift();
            }
            state.lag.set(r.host, list);
        }
    }

    /* A small line of a replica's lag over the last minutes, labelled for screen readers. */
    function sparkline(host) {
        const W = 120;
        const H = 24;
        const list = (state.lag.get(host) || []).filter((p) => p.bytes !== null);
        const max = Math.max(1, ...list.map((p) => p.bytes));
        const now = Date.now();
        const last = list.length > 0 ? list[list.length - 1].bytes : null;
        const node = svg('svg', {class: 'spark', viewBox: `0 0 ${W} ${H}`, width: W, height: H,
            role: 'img', 'aria-label': last === null ? 'no lag measured yet'
                : `lag now ${bytes(last)}, highest ${bytes(max)} in the last 5 minutes`});
        const points = list.map((p) => {
            const x = W - ((now - p.t) / HISTORY_MS) * W;
            const y = H - 1 - (p.bytes / max) * (H - 2);
            return `${x.toFixed(1)},${y.toFixed(1)}`;
        });
        if (points.length > 0) {
            node.append(polyline(points, 'line lag'));
        }
        return node;
    }

    function lagText(r) {
        if (typeof r.lag_bytes !== 'number') {
            return '–';
        }
        const s = typeof r.lag_seconds === 'number' ? `, ${r.lag_seconds.toFixed(1)} s` : '';
        return `${bytes(r.lag_bytes)}${s}`;
    }

    async function refreshCluster() {
        let doc;
        try {
            doc = await getJson('/cluster');
        } catch (e) {
            if (e instanceof HttpError && e.status === 404) {
                clusterNote('This tspool build has no cluster endpoint.', false);
                return;
            }
            throw e;
        }
        recordLag(doc);
        const replicas = doc.replicas || [];
        const p = doc.primary || {};
        clusterNote(replicas.length === 0
            ? `Primary ${p.host || '?'}; no replicas configured (DB_READ_HOSTS is empty): reads use the primary.`
            : `${num(doc.in_rotation)} of ${num(replicas.length)} replicas serve reads` +
              ` (lag bound ${bytes(doc.max_lag_bytes)}${doc.max_lag_ms ? `, ${doc.max_lag_ms} ms` : ''});` +
              ` ${num(doc.failovers)} failovers seen; checked ${when(doc.checked_at_ms ? new Date(doc.checked_at_ms).toISOString() : null)}.`,
            true);
        const rows = [[
            p.host || '?',
            el('span', {class: p.role === 'primary' ? 'ok' : 'bad'}, p.role || 'unknown'),
            p.reason ? `${p.state}: ${p.reason}` : p.state,
            p.timeline === null || p.timeline === undefined ? '–' : num(p.timeline),
            p.current_lsn || '–',
            '–',
            '',
            'writes',
        ]];
        for (const r of replicas) {
            rows.push([
                r.host,
                el('span', {class: r.role === 'replica' ? '' : 'bad'}, r.role),
                r.state,
                r.timeline === null || r.timeline === undefined ? '–' : num(r.timeline),
                r.replayed_lsn || '–',
                lagText(r),
                sparkline(r.host),
                el('span', {class: r.in_rotation ? 'ok' : 'bad'},
                    r.in_rotation ? 'in rotation' : `out: ${r.reason || 'unknown'}`),
            ]);
        }
        fillTable('cluster-servers', rows, 'No servers.');
    }

    /* ---- PgBouncer ---------------------------------------------------------------------- */

    function pgbNote(text, showBody) {
        $('pgb-note').textContent = text;
        $('pgb-body').hidden = !showBody;
    }

    async function refreshPgbouncer() {
        let doc;
        try {
            doc = await getJson('/pgbouncer');
        } catch (e) {
            if (e instanceof HttpError && e.status === 404) {
                pgbNote('This tspool build has no PgBouncer endpoints.', false);
                return;
            }
            throw e;
        }
        if (!doc || !doc.enabled) {
            pgbNote('No PgBouncer configured (PGBOUNCER_HOSTS is empty).', false);
            return;
        }
        const down = (doc.instances || []).filter((i) => !i.up).length;
        pgbNote(`${num(doc.instances_up)} of ${num(doc.instances_total)} instances up` +
                `${down > 0 ? ` (${down} not up)` : ''}; refreshed ${when(doc.refreshed_at)}.`, true);
        fillTable('pgb-instances', (doc.instances || []).map((i) => [
            i.address,
            el('span', {class: i.up ? 'ok' : 'bad'}, i.state),
            i.version || '–',
            (i.paused_databases || []).join(', ') || '–',
            (i.disabled_databases || []).join(', ') || '–',
            i.refresh_age_s === null || i.refresh_age_s === undefined ? 'never'
                : `${Number(i.refresh_age_s).toFixed(1)} s ago`,
            i.error || '',
        ]), 'No instances yet.');
        fillTable('pgb-databases', (doc.databases || []).map((d) => [
            d.database,
            num(d.cl_active),
            el('span', {class: d.cl_waiting > 0 ? 'bad' : ''}, num(d.cl_waiting)),
            duration(d.max_wait_s),
            `${num(d.sv_active)} / ${num(d.sv_idle)} / ${num(d.sv_used)}`,
            Number(d.queries_per_second || 0).toFixed(1),
            d.paused && d.disabled ? 'paused, disabled' : d.paused ? 'paused' : d.disabled ? 'disabled' : 'active',
        ]), 'No databases.');
    }

    /* ---- the loop ----------------------------------------------------------------------- */

    /* TimescaleDB reads run beside the main loop: a slow catalog query must not hold up the
     * pool chart and the probes. An outage is reported by the main loop, not here. */
    function refreshTimescaleAside() {
        if (state.tsBusy) {
            return;
        }
        state.tsBusy = true;
        section(refreshTimescale, (e) => tsNote(`TimescaleDB read failed: ${e.message}`, false), true)
            .then((e) => {
                state.tsBusy = false;
                if (e === null) {
                    state.tsDue = false;
                    state.tsLast = Date.now();
                } else if (e instanceof AuthError) {
                    askToken();
                } else if (!(e instanceof DownError)) {
                    $('summary').textContent = `Dashboard error: ${e && e.message ? e.message : e}`;
                }
            });
    }

    function schedule(ms) {
        clearTimeout(state.timer);
        state.timer = setTimeout(poll, ms);
    }

    /* Run one section; its own HTTP errors (and, when softTimeouts, its timeouts) are shown in
     * place and do not stop the others. Returns the error the loop must handle, or null. */
    async function section(fn, onError, softTimeouts) {
        try {
            await fn();
            return null;
        } catch (e) {
            if (e instanceof HttpError || (softTimeouts && e instanceof TimeoutError)) {
                onError(e);
                return null;
            }
            return e;
        }
    }

    async function poll() {
        if (state.waitingForToken) {
            return;
        }
        state.tick++;
        const tasks = [
            section(refreshPool, (e) => {
                $('conns-note').textContent = `Pool status failed: ${e.message}`;
                $('conns-note').hidden = false;
            }),
            section(refreshProbes, (e) => {
                $('summary').textContent = `Probe request failed: ${e.message}`;
            }),
            section(refreshActivity, (e) => activityNote(`Server activity failed: ${e.message}`, false)),
            section(refreshPgbouncer, (e) => pgbNote(`PgBouncer read failed: ${e.message}`, false), true),
            section(refreshCluster, (e) => clusterNote(`Cluster read failed: ${e.message}`, false), true),
        ];
        if (state.tsDue || Date.now() - state.tsLast >= TIMESCALE_MS) {
            refreshTimescaleAside();
        }
        const errors = (await Promise.all(tasks)).filter((e) => e !== null);
        if (errors.some((e) => e instanceof AuthError)) {
            askToken();
            return;
        }
        const down = errors.find((e) => e instanceof DownError);
        if (down) {
            setDown(down.message);
            drawChart();
            schedule(backoffMs());
            return;
        }
        setUp();
        renderSummary();
        for (const e of errors) {
            /* a bug in this page: show it rather than fail silently */
            $('summary').textContent = `Dashboard error: ${e && e.message ? e.message : e}`;
        }
        schedule(POLL_MS);
    }

    function start() {
        $('token-form').addEventListener('submit', onTokenSubmit);
        let resizeTimer = null;
        window.addEventListener('resize', () => {
            clearTimeout(resizeTimer);
            resizeTimer = setTimeout(drawChart, 150);
        });
        drawChart();
        schedule(0);
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', start);
    } else {
        start();
    }
})();
