// One file-system watch per directory, shared by everything in one FsStore
// that waits for a change there (followers of entries one producer writes,
// callers waiting for a claim's head): some runtimes spend an inotify
// instance per watch, and the kernel allows a user 128 of them.

import { unrefTimeout } from "../_unref_timer.ts";
import type { FileSystem } from "./file_system.ts";

interface Watch {
  readonly listeners: Set<() => void>;
  readonly stop: () => void;
}

/** Watches directories for the listeners that ask, until the last one goes. */
export class WatchHub {
  readonly #fs: FileSystem;
  readonly #watches = new Map<string, Watch>();

  constructor(fs: FileSystem) {
    this.#fs = fs;
  }

  /** Calls `listener` on each change under `path` until the returned function is called. */
  subscribe(path: string, listener: () => void): () => void {
    let watch = this.#watches.get(path);
    if (!watch) {
      const listeners = new Set<() => void>();
      const stop = this.#fs.watch?.(path, () => {
        for (const each of [...listeners]) each();
      }) ?? (() => {});
      watch = { listeners, stop };
      this.#watches.set(path, watch);
    }
    const held = watch;
    held.listeners.add(listener);
    return () => {
      if (!held.listeners.delete(listener) || held.listeners.size > 0) return;
      held.stop();
      if (this.#watches.get(path) === held) this.#watches.delete(path);
    };
  }

  /** Stops every watch. */
  close(): void {
    for (const watch of this.#watches.values()) watch.stop();
    this.#watches.clear();
  }
}

/**
 * Waits for changes under one path, for one waiter: it subscribes once, so
 * a change that comes while the waiter is busy is not lost, only folded
 * into the next `wait`.
 */
export class Changes {
  #changed = false;
  #wake: (() => void) | undefined;
  readonly #unsubscribe: () => void;

  constructor(hub: WatchHub, path: string) {
    this.#unsubscribe = hub.subscribe(path, () => {
      this.#changed = true;
      this.#wake?.();
    });
  }

  /**
   * Resolves at the next change (at once if one came since the last wait),
   * after `ms`, or when `signal` aborts: `true` if a change came. Its timer
   * never keeps the process alive (the watch does).
   */
  wait(ms: number, signal: AbortSignal): Promise<boolean> {
    if (this.#changed || signal.aborted) {
      const changed = this.#changed;
      this.#changed = false;
      return Promise.resolve(changed);
    }
    return new Promise<boolean>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#wake = undefined;
        const changed = this.#changed;
        this.#changed = false;
        resolve(changed);
      };
      const timer = unrefTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.#wake = done;
    });
  }

  /** Stops listening. */
  close(): void {
    this.#wake?.();
    this.#unsubscribe();
  }
}
