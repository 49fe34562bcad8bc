// Copying one entry of a lower layer of a LayeredStore up into the layers
// above it, as its bytes become known: all at once for a committed entry, or
// as another process writes it (its `follow` progress). The copy commits
// only if nothing took the key meanwhile (a create, a remove, a copy's
// layers found holding it) and the entry is still its layer's entry for the
// key (not replaced), and a failure anywhere only ends the copy: the
// reader of the lower entry never depends on it.

import type { StoreProgress } from "./shared_store.ts";
import type {
  EntryLifetime,
  EntryMeta,
  Store,
  StoreRecord,
  StoreWriter,
} from "./store.ts";

/** The most bytes one read of the lower entry asks for. */
const CHUNK = 256 * 1024;

/** What a copy-up knows of the entry it copies before its record. */
export interface CopySource {
  /** The store the entry is in. */
  readonly store: Store;
  /** Its id there. */
  readonly id: string;
  readonly meta: EntryMeta | undefined;
  readonly lifetime: EntryLifetime | undefined;
  /** Its creation time, if known (a committed entry's). */
  readonly created?: number;
  /** Its progress (one report, with its record, if it is committed), until `signal` aborts. */
  progress(signal: AbortSignal): AsyncIterable<StoreProgress>;
}

/** One copy-up, as the layered store tracks it. */
export interface Copy {
  /** Set by a create or remove of the key: the copy must not be kept. */
  cancelled: boolean;
  /** Stops following the source. */
  readonly stop: AbortController;
}

/** The progress of a committed entry: its record, at once. */
export function committed(
  record: StoreRecord,
): () => AsyncIterable<StoreProgress> {
  return async function* () {
    yield { size: record.size, record };
  };
}

/**
 * Copies `source` into `targets` (upper layers, top first) under `key`.
 * `made` learns each target entry's id as it is created, so the layered
 * store can release them with the source. Resolves with whether the copy
 * was committed; rejects if it failed, having released what it wrote.
 */
export async function copyUp(
  key: string,
  source: CopySource,
  targets: readonly Store[],
  copy: Copy,
  made: (index: number, id: string) => void,
): Promise<boolean> {
  const reader = await source.store.openReader(source.id);
  const writers: { store: Store; writer: StoreWriter }[] = [];
  let kept = false;
  try {
    const options = {
      ...(source.created === undefined ? {} : { created: source.created }),
      ...(source.lifetime ? { lifetime: source.lifetime } : {}),
    };
    for (const [index, store] of targets.entries()) {
      const writer = await store.create(key, source.meta, options);
      writers.push({ store, writer });
      made(index, writer.id);
    }
    let copied = 0;
    for await (
      const { size, record } of source.progress(copy.stop.signal)
    ) {
      while (copied < size) {
        if (copy.cancelled) return false;
        const chunk = await reader.read(copied, Math.min(size - copied, CHUNK));
        if (chunk.byteLength === 0) {
          throw new Error(
            `The entry ${source.id} has fewer bytes than reported`,
          );
        }
        await Promise.all(writers.map(({ writer }) => writer.write(chunk)));
        copied += chunk.byteLength;
      }
      if (!record) continue;
      if (copy.cancelled || await anyHolds(targets, key)) return false;
      // Replaced meanwhile where it came from: an old copy would hide the new.
      if ((await source.store.lookup(key))?.id !== source.id) return false;
      // Bottom-up, as a layered create commits: the top last.
      for (const { writer } of [...writers].reverse()) await writer.commit();
      kept = true;
      if (copy.cancelled) {
        // Removed or replaced while it committed: take it back.
        kept = false;
        for (const { store, writer } of writers) {
          await store.remove(key, writer.id);
        }
      }
      return kept;
    }
    throw new Error(`Following ${source.id} ended before it was complete`);
  } finally {
    await reader.close().catch(() => {});
    if (!kept) {
      for (const { store, writer } of writers) {
        await store.release(writer.id).catch(() => {});
      }
    }
  }
}

/** Whether any of `stores` has a committed entry for `key`. */
async function anyHolds(
  stores: readonly Store[],
  key: string,
): Promise<boolean> {
  for (const store of stores) {
    if (await store.lookup(key)) return true;
  }
  return false;
}
