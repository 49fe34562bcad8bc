// FsStore through the conformance suite, with the adapter of the runtime
// (and, on Deno, the Node adapter too).

import { after, describe } from "./_testing.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { denoFileSystem, FsStore, nodeFileSystem } from "../src/fs/mod.ts";
import type { FileSystem } from "../src/fs/mod.ts";
import { describeStoreConformance } from "./_store_conformance.ts";

const root = await mkdtemp(join(tmpdir(), "streamcache-fs-"));
let count = 0;
const adapters: [string, FileSystem][] = "Deno" in globalThis
  ? [["Deno adapter", denoFileSystem], ["Node adapter", nodeFileSystem]]
  : [["Node adapter", nodeFileSystem]];

describe("FsStore", () => {
  after(() => rm(root, { recursive: true, force: true }));
  for (const [name, fs] of adapters) {
    describeStoreConformance(
      `FsStore (${name})`,
      () => new FsStore({ dir: join(root, String(++count)), fs }),
    );
  }
});
