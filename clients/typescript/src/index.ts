// index.ts - the tspool client: openapi-fetch typed by the types generated from openapi.yaml
// (src/schema.ts). Every path, parameter, body and response is checked by the compiler.
// SPDX-License-Identifier: MIT
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
export type PoolStatus = components["schemas"]["PoolStatus"];
export type Problem = components["schemas"]["Problem"];
export type PoolChange = NonNullable<operations["resizePool"]["requestBody"]>["content"]["application/json"];

export interface TspoolClientOptions {
    /** Base URL of the service, e.g. http://127.0.0.1:8080 */
    baseUrl: string;
    /** Bearer token: TSPOOL_ADMIN_TOKEN for changes, TSPOOL_READ_TOKEN (or admin) for reads */
    token?: string;
    /** Replaces the global fetch (tests, proxies) */
    fetch?: typeof globalThis.fetch;
}

/** A typed client: `client.GET("/pool/status", { params: { query: { detailed: "true" } } })`. */
export function createTspoolClient(options: TspoolClientOptions) {
    const headers: Record<string, string> = {};
    if (options.token) {
        headers.Authorization = `Bearer ${options.token}`;
    }
    return createClient<paths>({ baseUrl: options.baseUrl, headers, fetch: options.fetch });
}

export type TspoolClient = ReturnType<typeof createTspoolClient>;

/** One line for a problem document (or anything else an error response carried). */
export function describeError(status: number, error: unknown): string {
    const p = error as Partial<Problem> | undefined;
    if (p && typeof p === "object" && typeof p.title === "string") {
        return `${status} ${p.title}: ${p.detail ?? ""}${p.field ? ` (field ${p.field})` : ""}`;
    }
    return `${status}: ${JSON.stringify(error)}`;
}

export type Chunk = components["schemas"]["Chunk"];
export type ChunkQuery = NonNullable<operations["listChunks"]["parameters"]["query"]>;

/**
 * Every chunk of a hypertable, page by page: follows `next_cursor` until it is null, so the
 * service never builds more than one page (`limit`, default 100) at a time. Throws an Error
 * carrying the problem's one-line description on an error answer.
 */
export async function* listAllChunks(client: TspoolClient, hypertable: string,
    query: Omit<ChunkQuery, "cursor"> = {}): AsyncGenerator<Chunk> {
    let cursor: string | undefined;
    do {
        const { data, error, response } = await client.GET("/hypertables/{name}/chunks", {
            params: { path: { name: hypertable }, query: { ...query, ...(cursor ? { cursor } : {}) } },
        });
        if (!data) {
            throw new Error(describeError(response.status, error));
        }
        yield* data.chunks;
        cursor = data.next_cursor ?? undefined;
    } while (cursor);
}
