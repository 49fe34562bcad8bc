// The little of IndexedDB the store uses, typed here: the core and the
// backends are checked by Deno and by tsc without the DOM library (so no
// browser type leaks elsewhere), and a browser's real objects fit these
// shapes. The globals are read when used, so `fake-indexeddb/auto` may
// install them after this module loads.

export type IdbKey = string | number | IdbKey[];

export interface IdbKeyRange {
  readonly lower: unknown;
  readonly upper: unknown;
}

export interface IdbRequest<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: ((this: never, event: never) => unknown) | null;
  onerror: ((this: never, event: never) => unknown) | null;
}

export interface IdbTransaction {
  readonly error: unknown;
  readonly db: { close(): void };
  oncomplete: ((this: never, event: never) => unknown) | null;
  onerror: ((this: never, event: never) => unknown) | null;
  onabort: ((this: never, event: never) => unknown) | null;
  abort(): void;
}

export interface IdbObjectStore {
  readonly transaction: IdbTransaction;
  put(value: unknown, key: IdbKey): unknown;
  delete(query: IdbKey | IdbKeyRange): unknown;
  get(query: IdbKey): IdbRequest<unknown>;
  getAll(query: IdbKeyRange): IdbRequest<unknown[]>;
  getAllKeys(query: IdbKeyRange): IdbRequest<unknown[]>;
  count(query: IdbKeyRange): IdbRequest<number>;
}

export type IdbMode = "readonly" | "readwrite";

/** `IDBKeyRange.bound(lower, upper)`. */
export function bound(lower: IdbKey, upper: IdbKey): IdbKeyRange {
  const { IDBKeyRange } = globalThis as unknown as {
    IDBKeyRange: { bound(lower: IdbKey, upper: IdbKey): IdbKeyRange };
  };
  return IDBKeyRange.bound(lower, upper);
}

/**
 * Resolves with a request's result, or rejects with its error. `T` is what
 * the caller stored there: IndexedDB keeps no types.
 */
export function request<T>(req: IdbRequest<unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result as T);
    req.onerror = () => reject(req.error);
  });
}

/** Resolves when a transaction commits, or rejects with why it aborted. */
export function committed(transaction: IdbTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = transaction.onabort = () => reject(transaction.error);
  });
}
