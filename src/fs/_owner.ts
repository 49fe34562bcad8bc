// Who owns each tmp/<owner>/ directory, and when its owner is gone.
//
// Every FsStore writes its entries in progress under a directory of its own,
// named <pid>-<scope>-<random>, and holds a lease on it: it sets the
// directory's modification time every LEASE.refreshMs (an unref'd timer that
// close() stops). Another store sweeps the directory, reclaiming a crashed
// writer's files, only when its owner is surely gone:
//
// - its lease is stale (not refreshed for LEASE.staleMs), or
// - its PID names no process, and the PID was taken in this very kernel boot
//   and PID namespace (the <scope> part), where the number means something.
//
// So containers that share a volume (two PID namespaces, both PID 1) never
// sweep each other's live directories, and a directory that carries this
// process's own PID is judged by its lease, never by the number. Times are
// compared on one machine's clock only: the lease is set with the owner's
// clock and judged with the sweeper's, so clocks that disagree by less than
// the stale period do no harm.

import { unrefInterval } from "../_unref_timer.ts";
import type { FileSystem } from "./file_system.ts";
import { type Layout, sha256Hex } from "./_layout.ts";

/** How often an owner refreshes its lease, and when a lease is stale. */
export interface LeaseTimes {
  readonly refreshMs: number;
  readonly staleMs: number;
}

/** The defaults: refreshed every 30 s, stale after 10 minutes. */
export const LEASE: LeaseTimes = { refreshMs: 30_000, staleMs: 600_000 };

/** `<pid>-<scope>-<random>`; directories of the first format lack the scope. */
const OWNER_NAME = /^(\d+)-(?:([0-9a-f]{8})-)?([0-9a-f]{8})$/;

/** Owner directories of stores open in this process, which no sweep may touch. */
const openOwners = new Set<string>();

/** What an owner directory's name says of its owner. */
export interface OwnerName {
  readonly pid: number;
  /** Which kernel boot and PID namespace the PID belongs to, if known. */
  readonly scope: string | undefined;
}

export function parseOwnerName(name: string): OwnerName | undefined {
  const match = OWNER_NAME.exec(name);
  const pid = Number(match?.[1]);
  return match && pid > 0 ? { pid, scope: match[2] } : undefined;
}

const hex8 = () =>
  crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16).padStart(8, "0");

/** One store's directory of entries in progress, and its lease. */
export class Owner {
  readonly name: string;
  readonly path: string;
  readonly #fs: FileSystem;
  readonly #layout: Layout;
  readonly #times: LeaseTimes;
  readonly #self: OwnerName;
  #stop: (() => void) | undefined;
  #lastSweep = Date.now();
  #refreshing: Promise<void> | undefined;

  private constructor(
    fs: FileSystem,
    layout: Layout,
    times: LeaseTimes,
    scope: string | undefined,
  ) {
    this.#fs = fs;
    this.#layout = layout;
    this.#times = times;
    this.#self = { pid: fs.pid, scope };
    this.name = scope === undefined
      ? `${fs.pid}-${hex8()}`
      : `${fs.pid}-${scope}-${hex8()}`;
    this.path = `${layout.tmp}/${this.name}`;
    openOwners.add(this.name);
  }

  /**
   * Claims a new owner directory in `layout`: sweeps the directories of
   * owners that are gone, then creates this one and starts its lease.
   */
  static async start(
    fs: FileSystem,
    layout: Layout,
    times: LeaseTimes = LEASE,
  ): Promise<Owner> {
    const full = await fs.processScope();
    const scope = full === undefined ? undefined : (await sha256Hex(full))
      .slice(0, 8);
    const owner = new Owner(fs, layout, times, scope);
    try {
      await owner.sweep();
      await owner.ensure();
    } catch (error) {
      openOwners.delete(owner.name);
      throw error;
    }
    owner.#stop = unrefInterval(() => owner.#tick(), times.refreshMs);
    return owner;
  }

  /** Creates the directory (again, if an operator deleted it) and renews the lease. */
  async ensure(): Promise<void> {
    await this.#fs.mkdir(this.path);
    await this.#fs.touch(this.path, Date.now());
  }

  /** Removes the directories of owners that are gone; see the module's comment. */
  async sweep(): Promise<void> {
    this.#lastSweep = Date.now();
    let names: string[];
    try {
      names = await this.#fs.readDir(this.#layout.tmp);
    } catch (error) {
      if (this.#fs.isNotFound(error)) return;
      throw error;
    }
    for (const name of names) {
      const owner = parseOwnerName(name);
      if (!owner || openOwners.has(name)) continue;
      const path = `${this.#layout.tmp}/${name}`;
      try {
        if (await this.#isGone(owner, path)) await this.#fs.remove(path);
      } catch {
        // Gone meanwhile, or not removable now: the next sweep tries again.
      }
    }
  }

  /** Stops the lease and removes the directory with whatever is left in it. */
  async close(): Promise<void> {
    this.#stop?.();
    this.#stop = undefined;
    await this.#refreshing;
    openOwners.delete(this.name);
    try {
      await this.#fs.remove(this.path);
    } catch (error) {
      if (!this.#fs.isNotFound(error)) throw error;
    }
  }

  /**
   * Whether the owner named `name` is surely gone by its PID: it was taken
   * in this kernel boot and PID namespace, is not this process's, and names
   * no process. `false` means "judge it by its lease".
   */
  isDead(name: string): boolean {
    const owner = parseOwnerName(name);
    const { scope, pid } = this.#self;
    return owner !== undefined && owner.scope !== undefined &&
      owner.scope === scope && owner.pid !== pid &&
      !this.#fs.isProcessAlive(owner.pid);
  }

  async #isGone(owner: OwnerName, path: string): Promise<boolean> {
    const { scope, pid } = this.#self;
    if (
      owner.scope !== undefined && owner.scope === scope &&
      owner.pid !== pid && !this.#fs.isProcessAlive(owner.pid)
    ) {
      return true;
    }
    const { mtime } = await this.#fs.stat(path);
    return Date.now() - mtime > this.#times.staleMs;
  }

  #tick(): void {
    if (this.#refreshing) return;
    this.#refreshing = (async () => {
      try {
        await this.ensure();
        if (Date.now() - this.#lastSweep >= this.#times.staleMs) {
          await this.sweep();
        }
      } catch {
        // A passing failure: the next tick tries again.
      } finally {
        this.#refreshing = undefined;
      }
    })();
  }
}
