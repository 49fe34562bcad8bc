// FsStore under SIGKILL (SEMANTICS 13, 14): a child process of the same
// runtime (tests/_fs_crash_child.ts) writes entries in two lanes at once and
// reports each chunk and commit on stdout; the test kills it at a random one
// of those points, then opens a fresh cache on its directory and checks that
// every entry the child reported committed is served whole, with exactly its
// bytes and metadata, that nothing partial is ever served, and that the dead
// child's files in progress are swept at start-up.
//
// Where each kill landed is judged from the files the child left, and the
// test asserts that kills landed in the middle of a commit (record written,
// rename not made), the moment rule 14 is about: random points rarely hit
// that window, so one trial in four has the child's file system hold back
// one commit's rename, and kills it there.
//
// Set STREAMCACHE_CRASH_STATS=1 to print where the kills landed.

import { describe, HEAVY_TIMEOUT_MS, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, open, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { StreamCache } from "../mod.ts";
import { FsStore } from "../src/fs/mod.ts";
import { CHILD_FLAG, contentOf, planFor } from "./_fs_crash_child.ts";
import { readAll } from "./_helpers.ts";

type Verify = "size" | "checksum";

/** Trials per variant: each spawns, kills and verifies one child. */
const TRIALS = { size: 20, checksum: 12 } as const;
/** Trials run at once (each is mostly waiting for its child). */
const PARALLEL = 4;
/** A child that never reaches its kill point fails the trial instead of hanging it. */
const DEADLINE_MS = 20_000;

// The child runs on the runtime that runs this test: `deno run -A` on Deno,
// `bun` on Bun, `node` on Node. Node 20 runs the tsc build of this file from
// .build/, so the child is the built .js beside it.
const EXT = new URL(import.meta.url).pathname.endsWith(".js") ? ".js" : ".ts";
const CHILD = fileURLToPath(
  new URL(`./_fs_crash_child${EXT}`, import.meta.url),
);
const RUNTIME_ARGS = "Deno" in globalThis ? ["run", "-A", "--quiet"] : [];

const random = (below: number): number => Math.floor(Math.random() * below);

/**
 * What the child told before it died. Lines it printed are not all lines it
 * meant to print: a runtime may still hold the last ones in its own buffer
 * when SIGKILL comes, so the directory can hold an entry whose `start` or
 * `committed` line never arrived. Every line that did arrive is true.
 */
interface ChildReport {
  /** The child's process id, which names its tmp/ directory. */
  pid: number;
  started: string[];
  committed: Set<string>;
  /** The kill point, for messages: after which committed line, how many lines more. */
  killPoint: string;
  /** With a pause: the committed path whose rename the child held back. */
  paused: string | undefined;
}

/**
 * Runs the child on `dir` and SIGKILLs it after its `afterCommits`-th
 * `committed` line plus `extraLines` more progress lines (and, half the time,
 * a timer of 0-2 ms, only to vary the point further); or, with `pause` > 0,
 * when it reports that its `pause`-th commit's rename is held back. Resolves
 * once the child is dead and reaped, with every line that reached the pipe.
 */
function runAndKill(
  dir: string,
  verify: Verify,
  prefix: string,
  afterCommits: number,
  extraLines: number,
  pause: number,
): Promise<ChildReport> {
  const killPoint = pause > 0
    ? `kill at the rename of commit #${pause}`
    : `kill after commit #${afterCommits} + ${extraLines} progress lines`;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...RUNTIME_ARGS, CHILD, CHILD_FLAG, dir, verify, prefix, String(pause)],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const report: ChildReport = {
      pid: child.pid ?? 0,
      started: [],
      committed: new Set(),
      killPoint,
      paused: undefined,
    };
    let buffered = "";
    let stderr = "";
    let commits = 0;
    let countdown = pause === 0 && afterCommits === 0 ? extraLines : -1;
    let killed = false;
    const kill = () => {
      if (!killed) {
        killed = true;
        child.kill("SIGKILL");
      }
    };
    const deadline = setTimeout(() => {
      kill();
      reject(
        new Error(
          `the child never reached its kill point (${killPoint}) in ${DEADLINE_MS} ms:\n${stderr}`,
        ),
      );
    }, DEADLINE_MS);
    let protocolError: Error | undefined;
    const onLine = (line: string) => {
      const [, word, rest = ""] = /^(\w+) ?(.*)$/.exec(line) ?? [];
      if (word === "pid") {
        if (Number(rest) !== report.pid) {
          protocolError ??= new Error(
            `the child runs as pid ${rest}, not ${report.pid}`,
          );
          kill();
        }
        return;
      }
      if (word === "start") report.started.push(JSON.parse(rest));
      else if (word === "committed") {
        report.committed.add(JSON.parse(rest));
        if (++commits === afterCommits && pause === 0) countdown = extraLines;
      } else if (word === "paused") {
        report.paused = rest;
        kill(); // in the middle of that commit, at once
        return;
      } else if (word !== "chunk" && word !== "committing") {
        protocolError ??= new Error(`unexpected line from the child: ${line}`);
        kill();
      }
      if (killed || countdown < 0) return;
      if (countdown-- > 0) return;
      if (Math.random() < 0.5) kill();
      else setTimeout(kill, random(3));
    };
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (text: string) => {
      const lines = (buffered + text).split("\n");
      buffered = lines.pop()!;
      for (const line of lines) onLine(line);
    });
    child.stderr.on("data", (text: string) => stderr += text);
    child.on("error", reject);
    // "close" comes after the child is reaped and its output read to the end:
    // every line that reached the pipe before it died is in the report.
    child.on("close", (code, signal) => {
      clearTimeout(deadline);
      if (protocolError) reject(protocolError);
      else if (signal === "SIGKILL" && killed) resolve(report);
      else {
        reject(
          new Error(
            `the child ended by itself (code ${code}, signal ${signal}):\n${stderr}`,
          ),
        );
      }
    });
  });
}

/** Where the kill landed, judged from the dead child's files. */
type Landing =
  | "mid-write" // an entry's bytes were being written
  | "mid-commit" // its record was written, the rename not yet made
  | "between entries"; // no entry file in progress

/**
 * A file that ends with FsStore's record ("SCE" and its format's version
 * digit, after the key, metadata and checksum): its commit had begun.
 */
const RECORD_END = /^SCE\d$/;

/** Judges where the kill landed from the files the child left in its tmp/ directory. */
async function landing(dir: string, pid: number): Promise<Landing> {
  const tmp = join(dir, "tmp");
  let result: Landing = "between entries";
  for (const owner of await readdir(tmp)) {
    if (!owner.startsWith(`${pid}-`)) continue;
    for (const name of await readdir(join(tmp, owner))) {
      if (name.endsWith(".removed")) continue;
      const path = join(tmp, owner, name);
      const { size } = await stat(path);
      const tail = new Uint8Array(4);
      const file = await open(path, "r");
      try {
        if (size >= 4) await file.read(tail, 0, 4, size - 4);
      } finally {
        await file.close();
      }
      if (RECORD_END.test(new TextDecoder().decode(tail))) return "mid-commit";
      result = "mid-write";
    }
  }
  return result;
}

/** Compares bytes without a slow element-by-element deepEqual of megabytes. */
function assertSameBytes(
  actual: Uint8Array,
  expected: Uint8Array,
  what: string,
): void {
  assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(
        `${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`,
      );
    }
  }
}

/** One trial: kill a child at a random point, then check the directory through a fresh cache. */
async function trial(
  dir: string,
  verify: Verify,
  prefix: string,
  pause: number,
): Promise<{ landing: Landing; unreported: number }> {
  const report = await runAndKill(
    dir,
    verify,
    prefix,
    random(3),
    random(40),
    pause,
  );
  const where = `${prefix}, ${report.killPoint}`;
  assert.ok(report.pid > 0, `${where}: no pid`);
  const landed = await landing(dir, report.pid);
  if (pause > 0) {
    // The child was killed with a record written and synced, the rename
    // not made: the entry it was committing must never be served.
    assert.ok(report.paused, `${where}: the child never paused`);
    assert.equal(landed, "mid-commit", `${where}: the files left`);
  }

  const cache = new StreamCache({ store: new FsStore({ dir, verify }) });
  try {
    const listed: string[] = [];
    for await (const key of cache.keys()) listed.push(key);

    // Rule 13: the start-up swept the dead child's files in progress.
    const owners = await readdir(join(dir, "tmp"));
    assert.ok(
      !owners.some((name) => name.startsWith(`${report.pid}-`)),
      `${where}: the dead child's tmp/ directory survived the start-up: ${owners}`,
    );
    // Nothing but whole entries is left in entries/.
    const files = await readdir(join(dir, "entries"));
    assert.equal(files.length, listed.length, `${where}: entries/ ${files}`);

    for (const key of listed) {
      assert.ok(
        key.startsWith(`${prefix}/lane `),
        `${where}: listed a key the child never wrote: ${key}`,
      );
    }
    for (const key of report.committed) {
      assert.ok(listed.includes(key), `${where}: committed ${key} not listed`);
    }
    for (const key of new Set([...report.started, ...listed])) {
      const entry = await cache.get(key);
      if (!entry) {
        assert.ok(
          !report.committed.has(key),
          `${where}: committed ${key} is missing`,
        );
        assert.ok(!listed.includes(key), `${where}: listed ${key} is missing`);
        continue;
      }
      const plan = planFor(key);
      assert.equal(entry.complete, true, `${where}: ${key} complete`);
      assert.equal(entry.size, plan.size, `${where}: ${key} size`);
      assert.deepEqual(entry.meta, plan.meta, `${where}: ${key} meta`);
      assertSameBytes(
        await readAll(entry.readable()),
        contentOf(key),
        `${where}: ${key} bytes`,
      );
    }
    if (report.paused) {
      const renamed = await stat(report.paused).then(() => true, () => false);
      assert.ok(!renamed, `${where}: the held-back rename happened`);
    }
    const unreported = listed.filter((key) => !report.committed.has(key));
    return { landing: landed, unreported: unreported.length };
  } finally {
    await cache.close();
  }
}

/** Runs `count` trials, `PARALLEL` at a time, each in its own directory under `root`. */
async function trials(
  root: string,
  verify: Verify,
  count: number,
): Promise<void> {
  const tally = new Map<string, number>();
  const count1 = (name: string) => tally.set(name, (tally.get(name) ?? 0) + 1);
  let next = 0;
  const failures: unknown[] = [];
  // Every worker finishes its trial before this returns, failed or not, so
  // no child is left writing into a directory about to be removed.
  let paused = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      for (let t = next++; t < count && !failures.length; t = next++) {
        try {
          // One trial in four kills in the middle of its 1st to 3rd commit.
          const pause = t % 4 === 0 ? 1 + random(3) : 0;
          if (pause) paused++;
          const dir = join(root, `t${t}`);
          const result = await trial(dir, verify, `t${t}`, pause);
          count1(result.landing);
          if (result.unreported) count1("committed, not yet reported");
        } catch (error) {
          failures.push(error);
        }
      }
    }),
  );
  if (failures.length) throw failures[0];
  if (process.env.STREAMCACHE_CRASH_STATS) {
    console.log(`crash trials (verify: ${verify}):`, Object.fromEntries(tally));
  }
  // Rule 14's moment was tried: kills landed mid-commit, and every
  // entry was still whole or absent after the restart (checked above).
  assert.ok(
    (tally.get("mid-commit") ?? 0) >= paused && paused > 0,
    `kills that landed mid-commit: ${
      tally.get("mid-commit") ?? 0
    } of ${count} (${paused} aimed there)`,
  );
}

describe("FsStore crash safety", () => {
  for (const verify of ["size", "checksum"] as const) {
    it(
      `rules 13, 14: ${
        TRIALS[verify]
      } writers SIGKILLed at random points, some mid-commit, leave only whole entries (verify: ${verify})`,
      {
        timeout: HEAVY_TIMEOUT_MS,
      },
      async () => {
        const root = await mkdtemp(join(tmpdir(), "streamcache-crash-"));
        try {
          await trials(root, verify, TRIALS[verify]);
        } finally {
          await rm(root, { recursive: true, force: true });
        }
      },
    );
  }

  it(
    "rule 13: a store started while another process writes sweeps none of its files; its entry commits whole",
    {
      timeout: HEAVY_TIMEOUT_MS,
    },
    async () => {
      const root = await mkdtemp(join(tmpdir(), "streamcache-crash-"));
      const dir = join(root, "cache");
      try {
        // Once the child is part-way through a multi-MB entry, this process
        // starts a store on the directory: its start-up must sweep none of the
        // live child's files, and the child's entry must then commit whole.
        const child = spawn(
          process.execPath,
          [...RUNTIME_ARGS, CHILD, CHILD_FLAG, dir, "size", "live"],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        let stderr = "";
        child.stderr.setEncoding("utf8");
        child.stderr.on("data", (text: string) => stderr += text);
        const closed = new Promise<void>((resolve) =>
          child.on("close", () => resolve())
        );
        child.stdout.setEncoding("utf8");
        const lines = readLines(child.stdout);
        const pid = child.pid;
        let watched: string | undefined;
        let committed = false;
        let cache: StreamCache | undefined;
        try {
          for await (const line of lines) {
            const [, word, rest = ""] = /^(\w+) ?(.*)$/.exec(line) ?? [];
            if (word === "chunk" && !watched) {
              // The first chunk of a multi-MB entry: the child is mid-write.
              const key = JSON.parse(rest.slice(0, rest.lastIndexOf(" ")));
              if (planFor(key).size < 1_000_000) continue;
              watched = key;
              cache = new StreamCache({ store: new FsStore({ dir }) });
              await cache.has("anything"); // its start-up, sweep included, is done
              const owners = (await readdir(join(dir, "tmp")))
                .filter((name) => name.startsWith(`${pid}-`));
              assert.equal(owners.length, 1, `the child's tmp/ dir: ${owners}`);
            }
            if (word === "committed" && JSON.parse(rest) === watched) {
              committed = true;
              break;
            }
          }
          assert.ok(watched && cache, `the child wrote no entry:\n${stderr}`);
          assert.ok(
            committed,
            `the child failed to commit ${watched}:\n${stderr}`,
          );
          // This store sees the entry the child committed under it.
          const entry = await cache.get(watched);
          assert.ok(entry?.complete);
          assertSameBytes(
            await readAll(entry.readable()),
            contentOf(watched),
            watched,
          );
        } finally {
          child.kill("SIGKILL");
          child.stdout.resume();
          await closed;
          await cache?.close();
        }
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    },
  );
});

/** The lines of a text stream, as they come. */
async function* readLines(
  stream: Readable,
): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream) {
    const lines = (buffered + chunk).split("\n");
    buffered = lines.pop()!;
    yield* lines;
  }
}
