// The ids of a store made of other stores (LayeredStore, PartitionedStore):
// the index of the inner store and the inner store's own id, as
// `<index>/<inner id>`. Any inner id fits (it may contain "/"), so such
// stores nest. Also the mapping of records, writers and claims to such ids.

import type { StoreClaim, StoreProgress } from "./shared_store.ts";
import type { Store, StoreRecord, StoreWriter } from "./store.ts";

/** The id of entry `inner` of inner store number `index`. */
export function composeId(index: number, inner: string): string {
  return `${index}/${inner}`;
}

/**
 * The inner store's index and id of a composite id, or `undefined` if `id`
 * is not one (or names no store below `count`).
 */
export function splitId(
  id: string,
  count: number,
): { index: number; inner: string } | undefined {
  const match = /^(0|[1-9]\d{0,5})\/(.*)$/su.exec(String(id));
  if (!match) return undefined;
  const index = Number(match[1]);
  return index < count ? { index, inner: match[2]! } : undefined;
}

/** A record of inner store `index`, as the composite store gives it. */
export function outerRecord(index: number, record: StoreRecord): StoreRecord {
  return { ...record, id: composeId(index, record.id) };
}

/** A writer of inner store `index`, as the composite store gives it. */
export function outerWriter(index: number, writer: StoreWriter): StoreWriter {
  return {
    id: composeId(index, writer.id),
    write: (chunk) => writer.write(chunk),
    commit: async () => outerRecord(index, await writer.commit()),
  };
}

/** A claim of inner store `index`, as the composite store gives it. */
export function outerClaim(index: number, claim: StoreClaim): StoreClaim {
  if (claim.kind === "follow") {
    return { ...claim, id: composeId(index, claim.id) };
  }
  return {
    kind: "produce",
    create: async (key, meta, options) =>
      outerWriter(index, await claim.create(key, meta, options)),
    abandon: (reason) => claim.abandon(reason),
  };
}

/** The progress of an entry of inner store `index`, as the composite store reports it. */
export async function* outerProgress(
  index: number,
  progress: AsyncIterable<StoreProgress>,
): AsyncIterable<StoreProgress> {
  for await (const { size, record } of progress) {
    yield record ? { size, record: outerRecord(index, record) } : { size };
  }
}

/** The records of a store: `records()` where it has it, else each key looked up. */
export async function* recordsOf(store: Store): AsyncIterable<StoreRecord> {
  if (store.records) {
    yield* store.records();
    return;
  }
  for await (const key of store.keys()) {
    const record = await store.lookup(key);
    if (record) yield record;
  }
}

/** Waits for every one of `tasks`, even if some fail; rethrows the first failure. */
export async function settleAll(
  tasks: readonly Promise<unknown>[],
): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** Closes every store, all of them even if some fail; rethrows the first failure. */
export function closeAll(stores: readonly Store[]): Promise<void> {
  return settleAll(stores.map((store) => store.close()));
}
