// Redis key names and record (de)serialisation for RedisStore; the layout
// is described in src/redis/_scripts.ts.

import { StreamCacheError } from "../errors.ts";
import { ProducerLostError } from "../shared_store.ts";
import type { EntryLifetime, EntryMeta, StoreRecord } from "../store.ts";

/** The Redis key names of a store, by its prefix. */
export class KeyNames {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The committed id of a key, by the key's hash. */
  committed(hash: string): string {
    return `${this.prefix}k:${hash}`;
  }

  /** The lease of a key, by the key's hash. */
  lease(hash: string): string {
    return `${this.prefix}l:${hash}`;
  }

  /** An entry's event stream. */
  events(id: string): string {
    return `${this.prefix}e:${id}`;
  }

  /** Block `n` of an entry's bytes. */
  block(id: string, n: number): string {
    return `${this.prefix}b:${id}:${n}`;
  }
}

/**
 * A hash's fields, from HGETALL's reply: a flat array (RESP2, and scripts),
 * or a map (RESP3: a Map or a plain object, by the client's type mapping).
 */
export function fields(reply: unknown): Map<string, string> {
  const map = new Map<string, string>();
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) {
      map.set(String(reply[i]), String(reply[i + 1]));
    }
  } else if (reply instanceof Map) {
    for (const [name, value] of reply) map.set(String(name), String(value));
  } else if (typeof reply === "object" && reply !== null) {
    for (const [name, value] of Object.entries(reply)) {
      map.set(name, String(value));
    }
  }
  return map;
}

/** A committed entry's record, from its hash fields. */
export function toRecord(id: string, hash: Map<string, string>): StoreRecord {
  const meta = hash.get("meta");
  const lifetime = hash.get("lifetime");
  const created = Number(hash.get("created"));
  return {
    key: JSON.parse(hash.get("key") ?? '""') as string,
    id,
    meta: meta ? JSON.parse(meta) as EntryMeta : undefined,
    size: Number(hash.get("size")),
    created,
    accessed: Number(hash.get("accessed") ?? created),
    ...(lifetime ? { lifetime: JSON.parse(lifetime) as EntryLifetime } : {}),
  };
}

/**
 * The error for a script's refusal ("LEASE ...", "STATE ...", "TOOLARGE
 * ..."), with what was attempted; other errors are returned as they are.
 */
export function scriptError(
  error: unknown,
  action: string,
): unknown {
  const message = String((error as Error)?.message ?? "");
  const code = /^(LEASE|STATE|OFFSET|TOOLARGE) (.*)$/s.exec(message);
  if (!code) return error;
  const [, kind, rest] = code;
  if (kind === "LEASE") {
    return new ProducerLostError(
      `Cannot ${action}: this process lost its lease on the key (${rest})`,
      { cause: error },
    );
  }
  if (kind === "TOOLARGE") {
    return new RangeError(
      `Cannot ${action}: the entry would exceed maxEntryBytes (${rest})`,
      { cause: error },
    );
  }
  return new StreamCacheError(`Cannot ${action}: ${rest}`, { cause: error });
}
