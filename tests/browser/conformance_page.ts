// The conformance suite in a browser page: IndexedDbStore over the
// browser's own IndexedDB, and MemoryStore, in Chromium. Bundled and run by
// scripts/chromium.mjs, which reads each result as it is reported.

import { MemoryStore } from "../../mod.ts";
import { IndexedDbStore } from "../../src/idb/mod.ts";
import { describeStoreConformance } from "../_store_conformance.ts";
import { type Result, run } from "./_node_test_shim.ts";

let count = 0;
const fresh = () => `conformance-${Date.now()}-${++count}`;

// No `bulk` tests: they measure the process's memory, which a page cannot.
describeStoreConformance(
  "IndexedDbStore",
  () => new IndexedDbStore({ name: fresh() }),
  { bulk: false },
);
describeStoreConformance(
  "IndexedDbStore (5-byte chunks)",
  () => new IndexedDbStore({ name: fresh(), chunkSize: 5 }),
  { bulk: false },
);
describeStoreConformance("MemoryStore", () => new MemoryStore(), {
  bulk: false,
});

const page = globalThis as unknown as {
  report?: (result: Result) => Promise<void>;
  finished?: Promise<Result[]>;
};
page.finished = run((result) => page.report?.(result));
