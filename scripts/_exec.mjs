// Running commands for the test scripts (scripts/test.mjs, scripts/smoke.mjs,
// npm-build.ts): one place for the environment they run in, for starting a
// command in a process group of its own with a deadline, and for running
// jobs a few at a time. Plain JS ESM that runs on Node 20 and on Deno.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The repository's root directory, with a trailing slash. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The project's tools: deno, bun, tsc, esbuild, publint, attw. */
export const BIN = join(ROOT, "node_modules/.bin");
/** How many jobs run at once: the machines have 2 cores. */
export const PARALLEL = 2;
/** A command that runs longer than this is killed, with its whole group. */
export const DEADLINE_MS = 15 * 60_000;

const GROUP = fileURLToPath(new URL("./_group.mjs", import.meta.url));
/** A Node to run scripts/_group.mjs: this one, or (on Deno) the one on PATH. */
const NODE = "Deno" in globalThis ? "node" : process.execPath;

/**
 * The environment of every command: the project's tools first on PATH,
 * plain output (for parsing and for logs).
 *
 * @type {Record<string, string | undefined>}
 */
export const ENV = {
  ...process.env,
  PATH: `${BIN}${process.platform === "win32" ? ";" : ":"}${process.env.PATH}`,
  NO_COLOR: "1",
};
delete ENV.FORCE_COLOR; // Node warns when both are set

/**
 * Whether the environment says this is CI: `CI` set to anything but "",
 * "0" or "false" (GitHub, GitLab and most others set "true", some "1").
 *
 * @param {Record<string, string | undefined>} [env]
 * @returns {boolean}
 */
export function isCI(env = process.env) {
  const value = (env.CI ?? "").trim().toLowerCase();
  return value !== "" && value !== "0" && value !== "false";
}

/**
 * Runs a command in a process group of its own (scripts/_group.mjs): when it
 * outlives `deadline`, or leaves processes behind, or this process dies (even
 * by SIGKILL), its whole group is killed. Never rejects.
 *
 * @param {string} cmd
 * @param {readonly string[]} argv
 * @param {{ cwd?: string, deadline?: number, env?: Record<string, string | undefined> }} [options]
 * @returns {Promise<{ code: number, out: string }>} The exit code (128 + n
 *   for signal n, 124 for the deadline), and stdout and stderr interleaved.
 */
export function exec(cmd, argv, options = {}) {
  const { cwd = ROOT, deadline = DEADLINE_MS, env = ENV } = options;
  return new Promise((resolve) => {
    /** @type {Uint8Array[]} */
    const chunks = [];
    const child = spawn(NODE, [GROUP, String(deadline), cmd, ...argv], {
      cwd,
      env,
      // stdin stays open and unwritten: _group.mjs takes its end as our death.
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdout.on("data", (chunk) => chunks.push(chunk));
    child.stderr.on("data", (chunk) => chunks.push(chunk));
    child.on("error", (error) => {
      chunks.push(new TextEncoder().encode(`${NODE}: ${error.message}\n`));
    });
    child.on("close", (code) => {
      child.stdin.destroy();
      resolve({
        code: code ?? 1,
        out: new TextDecoder().decode(concat(chunks)),
      });
    });
  });
}

/**
 * Runs a command that must succeed; throws an Error with its output otherwise.
 *
 * @param {string} cmd
 * @param {readonly string[]} argv
 * @param {{ cwd?: string, deadline?: number }} [options]
 * @returns {Promise<string>} Its output.
 */
export async function must(cmd, argv, options = {}) {
  const { code, out } = await exec(cmd, argv, options);
  if (code !== 0) {
    throw new Error(`${cmd} ${argv.join(" ")} exited with ${code}\n${out}`);
  }
  return out;
}

/**
 * Runs `job` for each item, `parallel` at a time, in the items' order.
 *
 * @template T
 * @param {readonly T[]} items
 * @param {(item: T) => Promise<void>} job
 * @param {number} [parallel]
 * @returns {Promise<void>}
 */
export async function pool(items, job, parallel = PARALLEL) {
  const queue = [...items];
  const worker = async () => {
    while (queue.length) await job(/** @type {T} */ (queue.shift()));
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** @param {readonly Uint8Array[]} chunks */
function concat(chunks) {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return all;
}

/** Reads a JSON file. @param {string} path */
export const readJson = (path) => JSON.parse(fs.readFileSync(path, "utf8"));
