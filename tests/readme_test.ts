// The README's examples cannot rot: every TypeScript block in README.md is
// a program of examples/, shown as that file is (tests/_readme.ts says how),
// and those programs run as written. The small ones run here, on this
// runtime, and must print what they say; the server recipes
// (examples/servers/) run in tests/recipes_test.ts. On Deno, every shown
// program also passes `deno check` (but bun.ts, which only Bun can type).
// The download server's README says what Cache-Status each outcome gets:
// that table is checked against the code. (Importing that code also keeps
// this file out of the npm package's run of the suite, which npm-build.ts
// makes in a directory with no README.)

import { describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { cacheStatus } from "../examples/download_server/cache_status.ts";
import type { ServeOutcome } from "../src/http/mod.ts";
import { asShown, readmeBlocks, unformatted } from "./_readme.ts";

/** The repository (Node 20 runs this file built, from .build/tests/). */
const ROOT = fileURLToPath(
  new URL(import.meta.url.endsWith(".js") ? "../../" : "../", import.meta.url),
);
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const DENO_JSON = JSON.parse(read("deno.json")) as {
  name: string;
  exports: Record<string, string>;
};
const BLOCKS = readmeBlocks(read("README.md"));
const SHOWN = [...new Set(BLOCKS.map((block) => block.file))]
  .filter((file): file is string => file !== undefined);

/** What each small program prints: the comments in it say so too. */
const OUTPUT: Record<string, string> = {
  "examples/get_or_create.ts": "3 readers, 1 run of the producer\ntrue\n",
  "examples/open.ts": 'true undefined\n"id,amount\\n1,19.99\\n"\n',
  "examples/fs_store.ts":
    "first run: made, 25 B\nafter a restart: from disk, 25 B\n",
  "examples/bounded_cache.ts":
    "evicted a.csv (100 B, bytes)\n2 entries, 200 B\n",
  "examples/http_cache_control.ts": [
    "miss, age -: prices v1 (1 handler calls)",
    "hit, age 30: prices v1 (1 handler calls)",
    "stale, age 90: prices v1 (2 handler calls)",
    "hit, age 0: prices v1 (2 handler calls)",
    "miss, age -: prices v2 (3 handler calls)",
    "revalidated, age -: prices v2 (4 handler calls)",
    "",
  ].join("\n"),
};

/** Node 20 runs the tsc build and cannot run TypeScript. */
const RUNS_TYPESCRIPT = "Deno" in globalThis || "Bun" in globalThis ||
  import.meta.url.endsWith(".ts");

/** Runs `args` with this runtime in `cwd`; resolves with its exit code and output. */
function runHere(
  args: readonly string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (text: string) => stdout += text);
    child.stderr.on("data", (text: string) => stderr += text);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The Deno flags of the `deno run` command a program's doc comment gives. */
function denoFlags(path: string): string[] {
  const command = new RegExp(
    `^ \\*\\s+deno run (.*?)\\s*${path}(?:\\s+#.*)?$`,
    "m",
  )
    .exec(read(path))?.[1];
  assert.ok(command !== undefined, `${path} says how to run it on Deno`);
  return command.split(/\s+/).filter(Boolean);
}

describe("README examples", () => {
  it("every TypeScript block is a program of examples/, shown as the file is", () => {
    assert.ok(BLOCKS.length >= 9, `found ${BLOCKS.length} blocks`);
    for (const block of BLOCKS) {
      const where = `README.md:${block.line}`;
      assert.ok(
        block.file !== undefined,
        `${where}: a TypeScript block starts with the line "// examples/<file>.ts" of the program it shows`,
      );
      assert.ok(existsSync(join(ROOT, block.file)), `${where}: ${block.file}`);
      const shown = asShown(
        block.file,
        read(block.file),
        DENO_JSON.name,
        DENO_JSON.exports,
      );
      assert.equal(
        unformatted(block.code),
        unformatted(shown),
        `${where} differs from ${block.file} (with the package's import names)`,
      );
    }
  });

  it("shows every server recipe", () => {
    for (
      const recipe of [
        "deno",
        "bun",
        "node_http",
        "express",
        "fastify",
        "hono",
      ]
    ) {
      assert.ok(SHOWN.includes(`examples/servers/${recipe}.ts`), recipe);
    }
  });

  for (const file of SHOWN.filter((f) => !f.startsWith("examples/servers/"))) {
    if (!RUNS_TYPESCRIPT) continue;
    it(`${file} runs as written and prints what it says`, {
      timeout: 20_000,
    }, async () => {
      assert.ok(file in OUTPUT, `the expected output of ${file} is known`);
      // A directory of its own: fs_store.ts writes .cache/fs_store there.
      const cwd = await mkdtemp(join(tmpdir(), "streamcache-readme-"));
      try {
        const path = join(ROOT, file);
        const args = "Deno" in globalThis
          ? ["run", ...denoFlags(file), path]
          : [path];
        const { code, stdout, stderr } = await runHere(args, cwd);
        assert.equal(code, 0, stderr);
        assert.equal(stdout, OUTPUT[file]);
      } finally {
        await rm(cwd, { recursive: true, force: true });
      }
    });
  }

  it("the download server's README gives the Cache-Status it sends for each outcome (RFC 9211)", () => {
    const table = read("examples/download_server/README.md")
      .split("\n")
      .map((line) => /^\| `([a-z-]+)` +\| `([^`]+)` +\|/.exec(line))
      .filter((row) => row !== null);
    assert.deepEqual(table.map((row) => row[1]), ["miss", "join", "hit", "-"]);
    for (const [, outcome, header] of table) {
      const served = outcome === "-" ? undefined : outcome as ServeOutcome;
      assert.equal(header, cacheStatus(served), outcome);
    }
  });

  if ("Deno" in globalThis) {
    it(
      "every program shown passes deno check (bun.ts excepted: only Bun types it)",
      {
        timeout: 60_000,
      },
      async () => {
        const files = SHOWN.filter((file) =>
          file !== "examples/servers/bun.ts"
        );
        const { code, stderr } = await runHere(["check", ...files], ROOT);
        assert.equal(code, 0, stderr);
      },
    );
  }
});
