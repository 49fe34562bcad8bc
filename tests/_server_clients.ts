// The real HTTP clients of the end-to-end tests, from Debian: curl, wget and
// aria2c, each the first on PATH that runs (`<name> --version`), wherever it
// is installed. Where one is missing, its tests skip with a reason on a
// developer's machine and fail under CI (CI set to anything but "", "0" or
// "false"), never skip: .ci/run installs all three with apt.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { delimiter, join } from "node:path";
import process from "node:process";
import { isCI } from "./_testing.ts";

/** The clients, by command name, and the Debian package each comes from. */
export const CLIENTS = {
  curl: { apt: "curl" },
  wget: { apt: "wget" },
  aria2c: { apt: "aria2" },
} as const;

/** A client's command name. */
export type ClientName = keyof typeof CLIENTS;

const found = new Map<ClientName, string | null>();
/** The path of the first `name` on PATH that runs, or null; looked up once. */
function find(name: ClientName): string | null {
  if (found.has(name)) return found.get(name)!;
  let path: string | null = null;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (spawnSync(candidate, ["--version"], { stdio: "ignore" }).status === 0) {
      path = candidate;
      break;
    }
  }
  found.set(name, path);
  return path;
}

/**
 * Why `name`'s tests cannot run here, or `false` if they can. Under CI a
 * missing client is a failure (the test runs and {@linkcode run} throws),
 * never a skip.
 */
export function skipReason(name: ClientName): string | false {
  if (find(name) || isCI()) return false;
  return `no working ${name} on PATH (apt-get install -y ${
    CLIENTS[name].apt
  }); CI fails here`;
}

/** What one client run gave. */
export interface ClientResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: Uint8Array;
  readonly stderr: string;
}

/** A client process: its output so far, and its end. */
export interface ClientRun {
  /** Resolves when it has exited and its output is read. */
  readonly exited: Promise<ClientResult>;
  /** Its stderr so far. */
  stderr(): string;
  /** Resolves once its stderr matches `pattern` (rejects if it exits first). */
  waitForStderr(pattern: RegExp): Promise<void>;
  /** Sends it `signal`. */
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts client `name` with `args`. Throws a clear error if it is missing
 * (which only happens under CI: elsewhere its tests skip).
 */
export function start(
  name: ClientName,
  args: readonly string[],
  options: { cwd?: string } = {},
): ClientRun {
  const path = find(name);
  if (!path) {
    throw new Error(
      `no working ${name} on PATH: the end-to-end tests need it; .ci/run must run \`apt-get install -y ${
        CLIENTS[name].apt
      }\``,
    );
  }
  const child: ChildProcess = spawn(path, args, {
    stdio: ["ignore", "pipe", "pipe"],
    ...options,
  });
  const chunks: Uint8Array[] = [];
  let stderr = "";
  const watchers = new Set<() => void>();
  child.stdout!.on("data", (chunk: Uint8Array) => chunks.push(chunk));
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (text: string) => {
    stderr += text;
    for (const watcher of watchers) watcher();
  });
  const exited = new Promise<ClientResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      for (const watcher of watchers) watcher();
      resolve({ code, signal, stdout: concat(chunks), stderr });
    });
  });
  return {
    exited,
    stderr: () => stderr,
    kill: (signal) => void child.kill(signal),
    waitForStderr(pattern) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(stderr)) {
            watchers.delete(check);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            watchers.delete(check);
            reject(
              new Error(
                `${name} exited before its stderr matched ${pattern}:\n${stderr}`,
              ),
            );
          }
        };
        watchers.add(check);
        check();
      });
    },
  };
}

/** Runs client `name` with `args` to its end. */
export function run(
  name: ClientName,
  args: readonly string[],
  options: { cwd?: string } = {},
): Promise<ClientResult> {
  return start(name, args, options).exited;
}

/** Runs curl (quietly, errors shown) with `args` to its end. */
export function curl(args: readonly string[]): Promise<ClientResult> {
  return run("curl", ["--silent", "--show-error", ...args]);
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
