// Following a RedisStore entry another process writes. The follower blocks
// on the entry's event stream (XREAD BLOCK) on a connection of its own,
// which has no command timeout, so it wakes when the producer appends,
// commits or fails, never on a timer of its own; only when nothing happens
// until the producer's lease would have run out does it ask for the entry's
// status, and a lease that is gone then fails the entry for every follower
// with ProducerLostError. A broken connection (CLIENT KILL, a restart) is
// reconnected by the client and the read resumes from the last event id:
// ids are sizes, so nothing is missed or repeated.

import { EntryNotFoundError, StreamCacheError } from "../errors.ts";
import { ProducerLostError, type StoreProgress } from "../shared_store.ts";
import type { StoreRecord } from "../store.ts";
import type { Commands, RedisClient } from "./_client.ts";
import { fields, type KeyNames, toRecord } from "./_entry_keys.ts";

/** What a follower needs from its store. */
export interface FollowInit {
  readonly commands: Commands;
  readonly names: KeyNames;
  readonly id: string;
  /** The key's lease key. */
  readonly lease: string;
  readonly leaseMs: number;
  readonly signal: AbortSignal;
}

/** A blocking read waits as long as it was told, whatever the client's default. */
export const NO_TIMEOUT = { timeout: 0 };

/** The slack added to a lease's remaining time before asking for the status. */
const SLACK_MS = 50;

/** Reports entry `init.id`'s progress until it is complete; throws if it fails. */
export async function* followEntry(
  init: FollowInit,
): AsyncGenerator<StoreProgress> {
  const { commands, id, signal } = init;
  const connection: RedisClient = commands.client.duplicate();
  connection.on("error", () => {}); // a failed XREAD says why, and is retried
  const stop = () => connection.destroy();
  signal.addEventListener("abort", stop, { once: true });
  try {
    await connection.connect();
    let last = "0-0";
    let size = 0;
    let wait = 0; // the first round asks for the status at once
    let failedSince: number | undefined;
    for (;;) {
      if (signal.aborted) return;
      let reply: unknown;
      if (wait > 0) {
        try {
          reply = await connection.sendCommand([
            "XREAD",
            "BLOCK",
            String(wait),
            "STREAMS",
            init.names.events(id),
            last,
          ], NO_TIMEOUT);
          failedSince = undefined;
        } catch (error) {
          if (signal.aborted) return;
          // The connection broke: the client reconnects, and the read
          // resumes from `last`. A server that stays away fails the entry.
          failedSince ??= Date.now();
          if (Date.now() - failedSince > 2 * init.leaseMs) {
            throw new StreamCacheError(
              `Cannot follow entry ${id}: Redis is unreachable`,
              { cause: error },
            );
          }
          await pause(Math.min(100, init.leaseMs / 10));
          continue;
        }
      }
      if (reply == null) {
        // Nothing happened while the lease should have been renewed: ask.
        const status = await commands.run("status", [id, init.lease]) as [
          string,
          string,
          number,
          string,
          string,
        ];
        const [state, sized, pttl, reason, lost] = status;
        if (Number(sized) > size) {
          size = Number(sized);
          if (state === "w") yield { size };
        }
        if (state === "c") {
          yield { size, record: await record(commands, id) };
          return;
        }
        // Failed, or failed and released since (the reason is kept).
        if (state === "f" || (state === "r" && reason)) {
          throw failure(id, reason, lost === "1");
        }
        if (state !== "w") {
          throw new EntryNotFoundError(
            `Cannot follow entry ${id}: it is gone from Redis (expired or released)`,
          );
        }
        wait = Math.max(1, Math.min(init.leaseMs, pttl + SLACK_MS));
        continue;
      }
      for (const [eventId, kind] of events(reply)) {
        last = eventId;
        const at = Number(eventId.slice(0, eventId.indexOf("-")));
        if (kind === "grow" && at > size) {
          size = at;
          yield { size };
        } else if (kind === "end") {
          yield { size: at, record: await record(commands, id) };
          return;
        } else if (kind === "fail") {
          wait = 0; // the status says why
        }
      }
    }
  } finally {
    signal.removeEventListener("abort", stop);
    connection.destroy();
  }
}

async function record(commands: Commands, id: string): Promise<StoreRecord> {
  const reply = await commands.run("record", [id]);
  if (reply == null) {
    throw new EntryNotFoundError(
      `Cannot follow entry ${id}: it was committed, then released`,
    );
  }
  return toRecord(id, fields(reply));
}

function failure(id: string, reason: string, lost: boolean): Error {
  return lost
    ? new ProducerLostError(`Cannot read entry ${id}: ${reason}`)
    : new StreamCacheError(
      `Cannot read entry ${id}: its producer (in another process) failed: ${
        reason || "no reason given"
      }`,
    );
}

/** The events of an XREAD reply (RESP2 arrays or RESP3 maps): [id, kind]. */
function events(reply: unknown): [string, string][] {
  const streams = reply instanceof Map
    ? [...reply.values()]
    : Array.isArray(reply)
    ? reply.map((stream) => (stream as unknown[])[1])
    : typeof reply === "object" && reply !== null
    ? Object.values(reply)
    : [];
  const out: [string, string][] = [];
  for (const entries of streams) {
    for (const entry of entries as [string, unknown][]) {
      const [eventId, values] = entry;
      out.push([String(eventId), String(fields(values).get("e"))]);
    }
  }
  return out;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
