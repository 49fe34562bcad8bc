/**
 * The servers bench/http.ts loads, each a child process on 127.0.0.1 that
 * prints `listening on <url>` first: the download server
 * (examples/download_server/main.ts) on Deno, Bun or Node, and the static
 * yardstick (bench/_http_static.ts, sirv on node:http).
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = `${ROOT}examples/download_server/main.ts`;
const STATIC = `${ROOT}bench/_http_static.ts`;
const STATIC_RUNTIME = `${ROOT}bench/_http_static_runtime.ts`;
/** A line that never comes fails the run instead of hanging it. */
const DEADLINE_MS = 60_000;

/** The runtimes the download server can run on here, as commands. */
export const SERVER_RUNTIMES: Record<string, readonly string[]> = {
  // The permissions `npm start` gives it.
  deno: [
    `${ROOT}node_modules/.bin/deno`,
    "run",
    "--allow-net=127.0.0.1",
    "--allow-read",
    "--allow-write",
    "--allow-env",
  ],
  bun: [`${ROOT}node_modules/.bin/bun`],
  node22: [`${ROOT}tools/nodes/node_modules/node22/bin/node`],
  node24: [`${ROOT}tools/nodes/node_modules/node24/bin/node`],
};

/** A server child process. */
export interface BenchServer {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  /** Lines it printed so far. */
  readonly lines: readonly string[];
  /** Resolves with the first line that `match` accepts, now or later. */
  waitForLine(match: (line: string) => boolean): Promise<string>;
  /** Its CPU time so far (user + system), in seconds, from /proc. */
  cpuSeconds(): number;
  /** SIGTERM, then resolves with its exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts the download server on `runtime` over the cache directory `dir`,
 * without per-request log lines.
 */
export function startDownloadServer(
  runtime: string,
  dir: string,
): Promise<BenchServer> {
  const command = SERVER_RUNTIMES[runtime];
  if (!command) throw new RangeError(`unknown runtime ${runtime}`);
  const [cmd, ...args] = command;
  return start(`streamcache on ${runtime}`, cmd!, [
    ...args,
    MAIN,
    "--port",
    "0",
    "--dir",
    dir,
    "--quiet",
  ]);
}

/**
 * Starts a static file server over `dir`: sirv on node:http (this process's
 * Node), or with `runtime` (deno, bun) that runtime's own file response.
 */
export function startStaticServer(
  dir: string,
  runtime?: "deno" | "bun",
): Promise<BenchServer> {
  if (!runtime) {
    return start("sirv on node:http", process.execPath, [STATIC, dir]);
  }
  const [cmd, ...args] = SERVER_RUNTIMES[runtime]!;
  return start(`${runtime}'s own file response`, cmd!, [
    ...args,
    STATIC_RUNTIME,
    dir,
  ]);
}

function start(
  name: string,
  cmd: string,
  args: string[],
): Promise<BenchServer> {
  const child: ChildProcess = spawn(cmd, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  // A bench that dies of an uncaught error takes its servers with it.
  const orphan = () => child.kill("SIGKILL");
  process.once("exit", orphan);
  child.once("close", () => process.off("exit", orphan));
  const lines: string[] = [];
  const waiters = new Set<() => boolean>();
  let stderr = "";
  let buffered = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (text: string) => stderr += text);
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (text: string) => {
    const parts = (buffered + text).split("\n");
    buffered = parts.pop()!;
    lines.push(...parts);
    for (const waiter of waiters) if (waiter()) waiters.delete(waiter);
  });
  const exit = new Promise<number | null>((resolve) =>
    child.on("close", (code) => resolve(code))
  );
  const waitForLine = (match: (line: string) => boolean) =>
    new Promise<string>((resolve, reject) => {
      const fail = (why: string) =>
        reject(new Error(`${name} ${why}:\n${lines.join("\n")}\n${stderr}`));
      const check = () => {
        const line = lines.find(match);
        if (line === undefined) return false;
        clearTimeout(timer);
        resolve(line);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        fail(`printed no awaited line in ${DEADLINE_MS / 1000} s`);
      }, DEADLINE_MS);
      if (check()) return;
      waiters.add(check);
      exit.then((code) => {
        clearTimeout(timer);
        fail(`exited (${code})`);
      });
    });
  return waitForLine((line) => line.startsWith("listening on ")).then(
    (line) => ({
      name,
      url: line.slice("listening on ".length),
      pid: child.pid!,
      lines,
      waitForLine,
      cpuSeconds: () => cpuSeconds(child.pid!),
      stop: () => {
        child.kill("SIGTERM");
        return exit;
      },
    }),
  );
}

/** User + system CPU seconds of process `pid` (Linux), from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses: utime and stime
  // are fields 14 and 15 of the whole line, in clock ticks (100 per second).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
