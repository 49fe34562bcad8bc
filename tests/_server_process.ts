// A server as a child process of the runtime that runs the test: the
// download server (examples/download_server/main.ts) on a free port (--port
// 0) and a given cache directory, or any command that prints `listening on
// <url>` (npm start, the recipes of examples/servers/). Its stdout is read
// line by line; its log lines are the test's events: `waitFor` resolves when
// a line arrives that the test is waiting for, never after a fixed sleep.

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

// Deno runs `deno run -A main.ts`, Bun `bun main.ts`, Node 22/24 `node
// main.ts` (they strip the types). Node 20 runs the tsc build of this file
// from .build/, so the server is the built .js there too.
const EXT = new URL(import.meta.url).pathname.endsWith(".js") ? ".js" : ".ts";
const MAIN = fileURLToPath(
  new URL(`../examples/download_server/main${EXT}`, import.meta.url),
);
const RUNTIME_ARGS = "Deno" in globalThis ? ["run", "-A", "--quiet"] : [];
/** A line the test waits for that never comes fails the test after this, instead of hanging it. */
const DEADLINE_MS = 10_000;

/** One request line of the server's log (see examples/download_server/access_log.ts). */
export interface AccessLine {
  readonly outcome: string;
  readonly status: number;
  readonly method: string;
  readonly target: string;
  readonly bytes: number;
  readonly headersMs: number;
  readonly totalMs: number;
  readonly note: string | undefined;
}

const LISTENING = /^listening on (http:\/\/\S+)$/;

const ACCESS =
  /^(\S+)\s+(\d{3}) ([A-Z]+) (\S+) (\d+) B {2}headers ([\d.]+) ms {2}total ([\d.]+) ms(?: \((.*)\))?$/;

/** Parses a request line of the log, or gives `undefined` for other lines. */
export function parseAccess(line: string): AccessLine | undefined {
  const m = ACCESS.exec(line);
  if (!m) return undefined;
  return {
    outcome: m[1]!,
    status: Number(m[2]),
    method: m[3]!,
    target: m[4]!,
    bytes: Number(m[5]),
    headersMs: Number(m[6]),
    totalMs: Number(m[7]),
    note: m[8],
  };
}

/** How a run of the download server that was expected to end, ended. */
export interface ServerExit {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * How long a run of the server that should end by itself may take: loading
 * its modules (type stripping, prom-client) on a loaded machine, then
 * printing a line. Not a speed goal: a deadline instead of a hang.
 */
const EXIT_DEADLINE_MS = 60_000;

/**
 * Runs the download server with `args` (and `--port 0`) until it exits, as
 * it does at once for `--help` and for arguments it refuses; a run that
 * does not end within a generous deadline is killed and fails.
 */
export function runServer(args: readonly string[]): Promise<ServerExit> {
  const child = spawn(
    process.execPath,
    [...RUNTIME_ARGS, MAIN, "--port", "0", ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (text: string) => stdout += text);
  child.stderr!.on("data", (text: string) => stderr += text);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `the server with ${
            args.join(" ")
          } did not exit in ${EXIT_DEADLINE_MS} ms:\n${stdout}\n${stderr}`,
        ),
      );
    }, EXIT_DEADLINE_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

interface Waiter {
  check(): boolean;
  fail(error: Error): void;
}

/** A running download server. */
export class ServerProcess {
  /** Its base URL, from its `listening on` line, e.g. `http://127.0.0.1:41234/`. */
  readonly url: string;
  /** Every line it printed on stdout so far. */
  readonly lines: string[];
  readonly #child: ChildProcess;
  readonly #exit: Promise<{ code: number | null; signal: string | null }>;
  readonly #waiters: Set<Waiter>;
  readonly #stderr: () => string;
  readonly #deadline: number;

  private constructor(
    url: string,
    child: ChildProcess,
    lines: string[],
    waiters: Set<Waiter>,
    exit: Promise<{ code: number | null; signal: string | null }>,
    stderr: () => string,
    deadline: number,
  ) {
    this.url = url;
    this.#child = child;
    this.lines = lines;
    this.#waiters = waiters;
    this.#exit = exit;
    this.#stderr = stderr;
    this.#deadline = deadline;
  }

  /**
   * Starts the download server on a free port over `dir`, with `args` more
   * (e.g. `--max-bytes 100k`); resolves once it listens.
   */
  static start(
    dir: string,
    args: readonly string[] = [],
  ): Promise<ServerProcess> {
    return ServerProcess.spawn(process.execPath, [
      ...RUNTIME_ARGS,
      MAIN,
      "--port",
      "0",
      "--dir",
      dir,
      ...args,
    ]);
  }

  /**
   * Runs `command` with `args`; resolves once it prints `listening on
   * <url>` (lines before it, such as npm's banner, are kept in `lines`).
   * With `detached`, the child leads a process group of its own, which
   * {@linkcode signalGroup} signals as a terminal's Ctrl-C would.
   */
  static spawn(
    command: string,
    args: readonly string[],
    options: {
      env?: Record<string, string>;
      cwd?: string;
      detached?: boolean;
      /** How long to wait for `listening on` and for `waitFor`'s lines. */
      deadline?: number;
    } = {},
  ): Promise<ServerProcess> {
    const deadline = options.deadline ?? DEADLINE_MS;
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
      detached: options.detached ?? false,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    const lines: string[] = [];
    const waiters = new Set<Waiter>();
    let stderr = "";
    let buffered = "";
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => stderr += text);
    child.stdout!.on("data", (text: string) => {
      const parts = (buffered + text).split("\n");
      buffered = parts.pop()!;
      lines.push(...parts);
      for (const waiter of waiters) if (waiter.check()) waiters.delete(waiter);
    });
    const exit = new Promise<{ code: number | null; signal: string | null }>(
      (resolve) => {
        // "close": the child is reaped and its output read to the end.
        child.on("close", (code, signal) => {
          const error = new Error(
            `${command} exited (code ${code}, signal ${signal}); its output:\n${
              lines.join("\n")
            }\n${stderr}`,
          );
          for (const waiter of waiters) waiter.fail(error);
          waiters.clear();
          resolve({ code, signal });
        });
      },
    );
    return new Promise((resolve, reject) => {
      child.on("error", reject);
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(
          new Error(
            `${command} did not print "listening on" in ${deadline} ms:\n${
              lines.join("\n")
            }\n${stderr}`,
          ),
        );
      }, deadline);
      const started: Waiter = {
        check() {
          const url = lines.map((line) => LISTENING.exec(line)?.[1])
            .find((found) => found !== undefined);
          if (url === undefined) return false;
          clearTimeout(timer);
          resolve(
            new ServerProcess(
              url,
              child,
              lines,
              waiters,
              exit,
              () => stderr,
              deadline,
            ),
          );
          return true;
        },
        fail(error) {
          clearTimeout(timer);
          reject(error);
        },
      };
      waiters.add(started);
    });
  }

  /** The process id of the child (for `npm start`, npm's). */
  get pid(): number {
    return this.#child.pid!;
  }

  /** Whether the child has not exited yet. */
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /**
   * Sends `signal` to the child's whole process group (it must have been
   * spawned `detached`), as a terminal sends Ctrl-C to every process of
   * the foreground job; resolves with how the child ended.
   */
  signalGroup(
    signal: "SIGINT" | "SIGTERM",
  ): Promise<{ code: number | null; signal: string | null }> {
    if (this.running) {
      try {
        process.kill(-this.#child.pid!, signal);
      } catch {
        // It has exited meanwhile.
      }
    }
    return this.#exit;
  }

  /** What the server printed on stderr so far. */
  get stderr(): string {
    return this.#stderr();
  }

  /** The URL of `path` on this server. */
  at(path: string): string {
    return new URL(path, this.url).href;
  }

  /**
   * Resolves with `find(lines)` as soon as it is not `undefined`: now, or
   * when a later line arrives. Rejects if the server exits first, or after
   * a deadline, `deadlineMs` (by default the one the server was spawned with)
   * (so a missing line fails the test instead of hanging it).
   */
  waitFor<T>(
    what: string,
    find: (lines: readonly string[]) => T | undefined,
    deadlineMs: number = this.#deadline,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const now = find(this.lines);
      if (now !== undefined) return resolve(now);
      const waiter: Waiter = {
        check: () => {
          const found = find(this.lines);
          if (found === undefined) return false;
          clearTimeout(timer);
          resolve(found);
          return true;
        },
        fail: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new Error(
            `waited ${deadlineMs} ms for ${what}; the server printed:\n${
              this.lines.join("\n")
            }\n${this.stderr}`,
          ),
        );
      }, deadlineMs);
      this.#waiters.add(waiter);
    });
  }

  /** The request lines for `target` so far. */
  requests(target: string): AccessLine[] {
    return this.lines.map(parseAccess).filter((r): r is AccessLine =>
      r?.target === target
    );
  }

  /** Waits until the log has `count` request lines for `target`; resolves with them. */
  waitForRequests(target: string, count: number): Promise<AccessLine[]> {
    return this.waitFor(`${count} log lines for ${target}`, () => {
      const found = this.requests(target);
      return found.length >= count ? found : undefined;
    });
  }

  /** Waits for the line that says `key`'s generation was stored; resolves with its size. */
  waitForStored(key: string): Promise<number> {
    return this.waitFor(`"stored ${key}"`, (lines) => {
      for (const line of lines) {
        const m = /^stored (\S+) (\d+) B in /.exec(line);
        if (m?.[1] === key) return Number(m[2]);
      }
      return undefined;
    });
  }

  /** Sends `signal`; resolves with how the process ended. */
  stop(
    signal: "SIGTERM" | "SIGINT" | "SIGKILL" = "SIGTERM",
  ): Promise<{ code: number | null; signal: string | null }> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      // Not `child.kill()`: after it, Deno's node:child_process reports the
      // signal it sent as the cause of death even when the child caught it
      // and exited with a code of its own (Deno 2.9).
      try {
        process.kill(this.#child.pid!, signal);
      } catch {
        // It has exited meanwhile.
      }
    }
    return this.#exit;
  }
}
