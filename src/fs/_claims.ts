// Claims: one producer per key among the FsStores (in one process or many,
// in one container or several) that share a directory in `shared` mode.
//
// A key's claims are files in claims/<sha256 of the key>/, named by their
// generation: 0, 1, 2, ... The highest one is the key's current claim. Each
// holds its producer's owner name (tmp/<owner>/ is where its entry is
// written), the entry's id, the producer's lease length, and, once the entry
// exists, its metadata (the head). A claim file is made complete in a
// private file and put in place with link(), which fails if the name exists:
// of several processes that try to make generation n, exactly one does.
//
// The claim's lease is its file's modification time: the producer sets it
// to now every third of its lease (an unref'd timer), and to 0 when its
// entry is committed or failed (released). A claim is live unless it is
// released, its lease is older than its length, or its owner's PID names no
// process in this very kernel boot and PID namespace (the test the start-up
// sweep uses, src/fs/_owner.ts); containers in other PID namespaces are
// judged by the lease alone. A claim that is not live is superseded by
// making the next generation, never replaced or deleted in place, so no two
// processes can both take one over; the winner then removes the older
// generations, and a process that made a generation below the highest takes
// its own back. A producer commits only if its claim is still the highest.

import { unrefInterval } from "../_unref_timer.ts";
import type { EntryLifetime, EntryMeta } from "../store.ts";
import type { FileInfo, FileSystem } from "./file_system.ts";
import type { Layout } from "./_layout.ts";
import { parseLifetime } from "../_record_lifetime.ts";
import type { Owner } from "./_owner.ts";
import { Changes, type WatchHub } from "./_watch_hub.ts";

/** What a claim file holds (JSON). */
interface ClaimFile {
  readonly owner: string;
  readonly id: string;
  readonly leaseMs: number;
  readonly head?: Head;
}

/** An entry's metadata, published in its claim once the entry exists. */
export interface Head {
  readonly meta?: EntryMeta;
  readonly lifetime?: EntryLifetime;
}

/** A claim this store holds. */
export interface HeldClaim {
  readonly id: string;
  readonly hash: string;
  readonly path: string;
  readonly gen: number;
  /** Set when its file was found gone: another process superseded it. */
  lost: boolean;
  /** Its release, once begun: every caller waits for the same one. */
  released?: Promise<void>;
}

/** Another process's claim, whose entry this store follows. */
export interface ClaimTarget {
  readonly id: string;
  readonly hash: string;
  /** The claim's file, whose liveness tells whether the producer lives. */
  readonly path: string;
  /** The producer's owner name: its entry is tmp/<owner>/<id>. */
  readonly owner: string;
  readonly leaseMs: number;
  readonly head: Head;
}

/** How a claim stands: only `live` means its producer is at work. */
export type Liveness = "live" | "released" | "stale" | "dead" | "gone";

/** The modification time a released claim has (with a file system's slack). */
const RELEASED_BEFORE = 1_000;

/** The claims of one store. */
export class Claims {
  readonly #fs: FileSystem;
  readonly #layout: Layout;
  readonly #owner: Owner;
  readonly #hub: WatchHub;
  readonly leaseMs: number;
  readonly #held = new Set<HeldClaim>();
  #stopRenewal: (() => void) | undefined;
  /** The renewals in flight: a release waits for them, so none lands after it. */
  #renewing: Promise<unknown> = Promise.resolve();
  /** Releases on their way to the disk, which close() waits for. */
  readonly #releasing = new Set<Promise<void>>();

  constructor(
    fs: FileSystem,
    layout: Layout,
    owner: Owner,
    hub: WatchHub,
    leaseMs: number,
  ) {
    this.#fs = fs;
    this.#layout = layout;
    this.#owner = owner;
    this.#hub = hub;
    this.leaseMs = leaseMs;
  }

  /**
   * Claims the key whose hash is `hash`, or finds the live claim of another
   * store and waits for its head. `committed(id)` tells whether an entry a
   * released claim named is the key's committed entry now (then it is
   * followed too: it completed just before this claim).
   */
  async claim(
    hash: string,
    committed: (id: string) => Promise<boolean>,
    signal: AbortSignal,
  ): Promise<
    { kind: "won"; held: HeldClaim } | { kind: "found"; target: ClaimTarget }
  > {
    const dir = `${this.#layout.claims}/${hash}`;
    await this.#fs.mkdir(dir);
    const changes = new Changes(this.#hub, dir);
    try {
      for (;;) {
        signal.throwIfAborted();
        const gens = await this.#gens(dir);
        const top = gens.at(-1);
        if (top !== undefined) {
          const path = `${dir}/${top}`;
          const seen = await this.#read(path);
          if (!seen) continue; // superseded and removed meanwhile
          const { claim } = seen;
          const state = claim ? this.#judge(claim, seen.info) : "stale";
          if (claim && state === "live") {
            if (claim.head) {
              return { kind: "found", target: target(hash, path, claim) };
            }
            // Its producer has not made its entry yet: wait for the head
            // (or for the claim to be released or to lapse).
            await changes.wait(checkMs(claim.leaseMs), signal);
            continue;
          }
          if (claim?.head && await committed(claim.id)) {
            return { kind: "found", target: target(hash, path, claim) };
          }
        }
        const gen = (top ?? -1) + 1;
        const id = crypto.randomUUID();
        const path = `${dir}/${gen}`;
        const claim: ClaimFile = {
          owner: this.#owner.name,
          id,
          leaseMs: this.leaseMs,
        };
        if (!(await this.#place(path, claim))) continue; // another won it
        const after = await this.#gens(dir);
        if (after.at(-1) !== gen) {
          // Made below a newer claim (after a slow look): not ours to keep.
          await this.#remove(path);
          continue;
        }
        for (const older of after) {
          if (older < gen) void this.#remove(`${dir}/${older}`);
        }
        const held: HeldClaim = { id, hash, path, gen, lost: false };
        this.#hold(held);
        return { kind: "won", held };
      }
    } finally {
      changes.close();
    }
  }

  /** Publishes the head of the entry `held` names, for the stores waiting for it. */
  async publish(held: HeldClaim, head: Head): Promise<void> {
    const claim: ClaimFile = {
      owner: this.#owner.name,
      id: held.id,
      leaseMs: this.leaseMs,
      head,
    };
    const scratch = `${this.#owner.path}/${held.id}.head`;
    await writeSmall(this.#fs, scratch, JSON.stringify(claim));
    await this.#fs.rename(scratch, held.path);
  }

  /** Whether `held` is still the key's current claim: its producer may commit. */
  async holds(held: HeldClaim): Promise<boolean> {
    if (held.lost) return false;
    const dir = held.path.slice(0, held.path.lastIndexOf("/"));
    const gens = await this.#gens(dir);
    if (gens.at(-1) !== held.gen) return false;
    return (await this.#read(held.path))?.claim?.id === held.id;
  }

  /**
   * Ends `held`: its lease is no longer renewed, and it is released at once.
   * Resolves when the release is on disk, for every caller.
   */
  release(held: HeldClaim): Promise<void> {
    held.released ??= (async () => {
      this.#held.delete(held);
      this.#stopIfIdle();
      await this.#renewing;
      await this.#fs.touch(held.path, 0).catch(() => {}); // superseded: no matter
    })();
    const releasing = held.released;
    this.#releasing.add(releasing);
    void releasing.then(() => this.#releasing.delete(releasing));
    return releasing;
  }

  /** How the claim in file `path`, naming entry `id`, stands now. */
  async liveness(path: string, id: string): Promise<Liveness> {
    const seen = await this.#read(path);
    if (!seen?.claim || seen.claim.id !== id) return "gone";
    return this.#judge(seen.claim, seen.info);
  }

  /** Releases every claim held (the store closes). */
  async close(): Promise<void> {
    await Promise.all([...this.#held].map((held) => this.release(held)));
    await Promise.all(this.#releasing);
    await this.#renewing;
  }

  #judge(claim: ClaimFile, info: FileInfo): Liveness {
    if (info.mtime < RELEASED_BEFORE) return "released";
    if (this.#owner.isDead(claim.owner)) return "dead";
    return Date.now() - info.mtime > claim.leaseMs ? "stale" : "live";
  }

  #hold(held: HeldClaim): void {
    this.#held.add(held);
    this.#stopRenewal ??= unrefInterval(
      () => this.#renew(),
      Math.max(1, Math.floor(this.leaseMs / 3)),
    );
  }

  #renew(): void {
    const round = [...this.#held].map((held) =>
      this.#fs.touch(held.path, Date.now()).catch((error) => {
        if (!this.#fs.isNotFound(error)) return; // the next round tries again
        held.lost = true; // superseded and removed by another process
        this.#held.delete(held);
        this.#stopIfIdle();
      })
    );
    this.#renewing = Promise.all([this.#renewing, ...round]);
  }

  #stopIfIdle(): void {
    if (this.#held.size === 0 && this.#stopRenewal) {
      this.#stopRenewal();
      this.#stopRenewal = undefined;
    }
  }

  /** The generations in `dir`, in order. */
  async #gens(dir: string): Promise<number[]> {
    let names: string[];
    try {
      names = await this.#fs.readDir(dir);
    } catch (error) {
      if (!this.#fs.isNotFound(error)) throw error;
      await this.#fs.mkdir(dir); // an operator emptied the directory
      names = [];
    }
    return names.filter((name) => /^\d{1,15}$/.test(name)).map(Number)
      .sort((a, b) => a - b);
  }

  /** A claim file's content (undefined if unreadable) and description; `undefined` if gone. */
  async #read(
    path: string,
  ): Promise<{ claim: ClaimFile | undefined; info: FileInfo } | undefined> {
    let file;
    try {
      file = await this.#fs.open(path, "read");
    } catch (error) {
      if (this.#fs.isNotFound(error)) return undefined;
      throw error;
    }
    try {
      const info = await file.stat();
      const bytes = new Uint8Array(info.size);
      let done = 0;
      while (done < bytes.byteLength) {
        const count = await file.read(bytes.subarray(done), done);
        if (count === 0) break;
        done += count;
      }
      return { claim: parseClaim(bytes.subarray(0, done)), info };
    } finally {
      await file.close();
    }
  }

  /** Puts a new claim file at `path`; `false` if one is there already. */
  async #place(path: string, claim: ClaimFile): Promise<boolean> {
    const scratch = `${this.#owner.path}/${claim.id}.claim`;
    try {
      await writeSmall(this.#fs, scratch, JSON.stringify(claim));
    } catch (error) {
      if (!this.#fs.isNotFound(error)) throw error;
      await this.#owner.ensure(); // an operator removed tmp/<owner>/
      await writeSmall(this.#fs, scratch, JSON.stringify(claim));
    }
    try {
      return await this.#fs.link!(scratch, path);
    } finally {
      await this.#remove(scratch);
    }
  }

  async #remove(path: string): Promise<void> {
    await this.#fs.remove(path).catch(() => {}); // gone already: as meant
  }
}

/** How often a follower asks whether a producer with lease `leaseMs` lives. */
export function checkMs(leaseMs: number): number {
  return Math.max(10, Math.floor(leaseMs / 2));
}

/** Writes a small new file in one piece. */
export async function writeSmall(
  fs: FileSystem,
  path: string,
  text: string,
): Promise<void> {
  const file = await fs.open(path, "create");
  try {
    await file.write(new TextEncoder().encode(text));
  } finally {
    await file.close();
  }
}

function target(hash: string, path: string, claim: ClaimFile): ClaimTarget {
  return {
    id: claim.id,
    hash,
    path,
    owner: claim.owner,
    leaseMs: claim.leaseMs,
    head: claim.head ?? {},
  };
}

function parseClaim(bytes: Uint8Array): ClaimFile | undefined {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { owner, id, leaseMs, head } = parsed;
  if (
    typeof owner !== "string" || typeof id !== "string" ||
    typeof leaseMs !== "number" || !(leaseMs > 0)
  ) {
    return undefined;
  }
  if (head === undefined) return { owner, id, leaseMs };
  if (typeof head !== "object" || head === null) return undefined;
  const { meta, lifetime } = head as Record<string, unknown>;
  const kept = parseLifetime(lifetime);
  return {
    owner,
    id,
    leaseMs,
    head: {
      ...(meta !== undefined && typeof meta === "object" && meta !== null
        ? { meta: meta as EntryMeta }
        : {}),
      ...(kept ? { lifetime: kept } : {}),
    },
  };
}
