// IndexedDbStore's database read behind its back, on fake-indexeddb: what
// the tests count (records by kind, an entry's chunks) and databases they
// delete when done.

// fake-indexeddb's globals, untyped: Deno and tsc check the tests without
// the DOM library, so the IndexedDB types are not there to use.
// deno-lint-ignore no-explicit-any
type Any = any;

/** Deletes a database of fake-indexeddb's. */
export function deleteDatabase(name: string): Promise<void> {
  const { indexedDB } = globalThis as Any;
  return new Promise<void>((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

/** Every record in a store's database: [key, value]. */
export async function rawRecords(
  name: string,
): Promise<[unknown[], unknown][]> {
  const { indexedDB } = globalThis as Any;
  const db = await new Promise<Any>((resolve, reject) => {
    const open = indexedDB.open(name);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  try {
    const store = db.transaction("streamcache").objectStore("streamcache");
    const [keys, values] = await Promise.all(
      [store.getAllKeys(), store.getAll()].map((req) =>
        new Promise<unknown[]>((resolve, reject) => {
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        })
      ),
    );
    return keys!.map((key, i) => [key as unknown[], values![i]]);
  } finally {
    db.close();
  }
}

/** The chunk records of entry `id`, in order. */
export async function chunksOf(name: string, id: string): Promise<unknown[]> {
  return (await rawRecords(name))
    .filter(([key]) => key[0] === "c" && key[1] === id)
    .map(([, value]) => value);
}

/** The records of a database by kind ("k" links, "e" entries, "c" chunks...). */
export async function countRecords(
  name: string,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const [key] of await rawRecords(name)) {
    counts[String(key[0])] = (counts[String(key[0])] ?? 0) + 1;
  }
  return counts;
}
