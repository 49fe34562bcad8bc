// What the fleet tests share (tests/fleet_fs_test.ts, tests/fleet_redis_test.ts):
// starting members of tests/_fleet_child.ts on the runtime that runs the test,
// reading their log lines, and streaming a download from one of them.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { readRest } from "./_helpers.ts";
import { ServerProcess } from "./_server_process.ts";

const EXT = new URL(import.meta.url).pathname.endsWith(".js") ? ".js" : ".ts";
const CHILD = fileURLToPath(new URL(`./_fleet_child${EXT}`, import.meta.url));
const RUNTIME_ARGS = "Deno" in globalThis ? ["run", "-A", "--quiet"] : [];
/**
 * How long a member may take to start, or to print a line a test waits for:
 * a runtime starting with node-redis takes 5 s on a loaded 2-core machine.
 */
const MEMBER_DEADLINE_MS = 60_000;

/**
 * Starts `n` members with `env`, each run by `wrap` (a command that runs
 * the member, e.g. `unshare`) if given; none is left if one fails.
 */
export async function startFleet(
  n: number,
  env: Record<string, string>,
  wrap: readonly string[] = [],
): Promise<ServerProcess[]> {
  const started = await Promise.allSettled(
    Array.from(
      { length: n },
      () =>
        ServerProcess.spawn(
          wrap[0] ?? process.execPath,
          [
            ...wrap.slice(1),
            ...(wrap.length ? [process.execPath] : []),
            ...RUNTIME_ARGS,
            CHILD,
          ],
          { env, deadline: MEMBER_DEADLINE_MS },
        ),
    ),
  );
  const members = started.flatMap((s) =>
    s.status === "fulfilled" ? [s.value] : []
  );
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await stopAll(members);
    throw failed.reason;
  }
  return members;
}

/** Kills every member. */
export async function stopAll(
  members: readonly ServerProcess[],
): Promise<void> {
  await Promise.all(members.map((member) => member.stop("SIGKILL")));
}

/** How many lines of `member` start with `prefix`. */
export const linesOf = (member: ServerProcess, prefix: string): number =>
  member.lines.filter((line) => line.startsWith(prefix)).length;

/** The failure line a member printed for `key`, once it prints it. */
export const failureOf = (
  member: ServerProcess,
  key: string,
): Promise<string> =>
  member.waitFor(
    `a failure of ${key}`,
    (lines) => lines.find((line) => line.startsWith(`failed ${key} `)),
  );

/** A response's body, read to its end (rejects if the server cuts it). */
export async function body(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

/** Starts a request and waits until its first bytes arrive. */
export async function streaming(
  url: string,
): Promise<{ id: string | null; rest: Promise<Buffer> }> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.ok(first.value && first.value.byteLength > 0, "first bytes");
  const rest = readRest(reader).then((tail) =>
    Buffer.concat([first.value!, tail])
  );
  rest.catch(() => {});
  return { id: response.headers.get("x-entry-id"), rest };
}
