// The store's connection to its database, through idb-keyval's createStore:
// one transaction per call, and a connection that was closed under the store
// (Safari closes idle ones, and does not always say so: idb-keyval #165; a
// `versionchange` elsewhere; the browser shutting down a worker's) is
// reopened and the call tried once more. Only a call whose transaction could
// not even start is retried, so nothing is ever done twice.

import { createStore, type UseStore } from "idb-keyval";
import { committed, type IdbMode, type IdbObjectStore } from "./_idb_types.ts";

/** The object store's name inside the database. */
const OBJECT_STORE = "streamcache";

/** A transaction's work: it may await IndexedDB requests, and nothing else. */
export type Work<T> = (store: IdbObjectStore) => T | Promise<T>;

/** Whether `error` says the connection is closed or closing. */
function isClosed(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "InvalidStateError";
}

export class Connection {
  readonly #name: string;
  #use: UseStore;
  /** The connection the last transaction ran on, to close when replaced. */
  #connection: { close(): void } | undefined;

  constructor(name: string) {
    this.#name = name;
    this.#use = createStore(name, OBJECT_STORE);
  }

  /** Runs `work` in one transaction and resolves once that has committed. */
  async run<T>(mode: IdbMode, work: Work<T>): Promise<T> {
    let started = false;
    const attempt = () =>
      this.#use(mode, async (idbStore) => {
        started = true;
        const store = idbStore as unknown as IdbObjectStore;
        const { transaction } = store;
        this.#connection = transaction.db;
        const done = committed(transaction);
        done.catch(() => {}); // the error reaches the caller through work
        let result: T;
        try {
          result = await work(store);
        } catch (error) {
          // Nothing of a transaction whose work failed may be committed.
          try {
            transaction.abort();
          } catch { /* it has already ended */ }
          throw error;
        }
        // A write is done once its transaction has committed.
        if (mode !== "readonly") await done;
        return result;
      });
    try {
      return await attempt();
    } catch (error) {
      if (started || !isClosed(error)) throw error;
      // The old connection is closing, or refuses transactions: let it go.
      this.#connection?.close();
      this.#connection = undefined;
      this.#use = createStore(this.#name, OBJECT_STORE);
      return await attempt();
    }
  }

  /** Closes the connection, if one is open. */
  async close(): Promise<void> {
    try {
      await this.#use(
        "readonly",
        (store) => (store as unknown as IdbObjectStore).transaction.db.close(),
      );
    } catch (error) {
      if (!isClosed(error)) throw error;
    }
  }
}
