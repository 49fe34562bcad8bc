import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { MemoryStore } from "../mod.ts";
import { describeStoreConformance } from "./_store_conformance.ts";

describeStoreConformance("MemoryStore", () => new MemoryStore());
// Tiny blocks put every block-boundary case in play. Each byte costs them
// a block (1 MiB: 3 s and 150 MB), so the tests whose point is volume run
// over the default blocks above.
describeStoreConformance(
  "MemoryStore (3-byte blocks)",
  () => new MemoryStore({ blockSize: 3 }),
  { bulk: false },
);

describe("MemoryStore", () => {
  it("rejects a blockSize that is not a positive integer (rule 18)", () => {
    assert.throws(() => new MemoryStore({ blockSize: 0 }), {
      name: "RangeError",
      message:
        "Cannot create MemoryStore: blockSize must be a positive integer: received 0",
    });
    assert.throws(() => new MemoryStore({ blockSize: 1.5 }), RangeError);
    assert.throws(
      () => new MemoryStore({ blockSize: "64" as unknown as number }),
      TypeError,
    );
  });

  it("fails to open a reader for an unknown id with a clear error", async () => {
    const store = new MemoryStore();
    await assert.rejects(
      store.openReader("nope"),
      /MemoryStore has no entry with id nope/,
    );
  });
});
