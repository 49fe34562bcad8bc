// `npm start`: runs the download server (main.ts) on Deno with the
// permissions it needs and no more: the network on 127.0.0.1, the PORT and
// STREAMCACHE_REDIS variables, and reading and writing its cache directory,
// the one `--dir` names (default .cache/downloads). With `--redis URL` (or
// STREAMCACHE_REDIS), and only then, also the network to that Redis's host
// and port, or reading and writing its Unix socket. Deno's permission flags
// come before the script, so `npm start -- --dir X` needs this step to
// grant X.
//
//   npm start -- --port 0 --dir /tmp/downloads    (arguments go to main.ts)
//   npm start -- --redis redis://127.0.0.1:6379   (a member of a fleet)
//
// It is plain JavaScript for the system Node (20 and later), and package.json
// runs it with `exec`, so that it is the process npm started: npm forwards
// SIGTERM and SIGINT to it, and it forwards them, and SIGHUP, to the server.
// It exits as the server exits, with its code or by its signal, so a process
// manager that stops `npm start` stops the server, and sees how it ended.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const MAIN = fileURLToPath(new URL("main.ts", import.meta.url));
const LOCAL_DENO = fileURLToPath(
  new URL("../../node_modules/.bin/deno", import.meta.url),
);
const DEFAULT_DIR = ".cache/downloads"; // main.ts's default
const REDIS_ENV = "STREAMCACHE_REDIS"; // main.ts's (store.ts)
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];

const args = process.argv.slice(2);
// Only --dir and --redis matter here; main.ts checks every argument itself.
const { values } = parseArgs({
  args,
  options: { dir: { type: "string" }, redis: { type: "string" } },
  strict: false,
  allowPositionals: true,
});
const dir = typeof values.dir === "string" ? values.dir : DEFAULT_DIR;
if (dir.includes(",")) {
  // Deno's permission lists are comma-separated.
  console.error(
    `--dir must not contain a comma (Deno's --allow-read takes a comma-separated list): received ${
      JSON.stringify(dir)
    }`,
  );
  process.exit(2);
}

const redis = typeof values.redis === "string"
  ? values.redis
  : process.env[REDIS_ENV] || undefined;
const net = ["127.0.0.1"];
const files = [dir];
if (redis !== undefined) {
  // What main.ts connects to; a URL it refuses is left for it to say so.
  const url = URL.canParse(redis) ? new URL(redis) : undefined;
  if (url?.protocol === "unix:") files.push(decodeURIComponent(url.pathname));
  else if (url?.hostname) {
    net.push(`${url.hostname}:${url.port || 6379}`);
  }
  if (files.some((file) => file.includes(","))) {
    console.error(
      `the --redis socket path must not contain a comma: received ${
        JSON.stringify(redis)
      }`,
    );
    process.exit(2);
  }
}

const deno = existsSync(LOCAL_DENO) ? LOCAL_DENO : "deno";
const child = spawn(deno, [
  "run",
  `--allow-net=${net.join(",")}`,
  `--allow-read=${files.join(",")}`,
  `--allow-write=${files.join(",")}`,
  // node-redis reads REDIS_DEBUG_MAINTENANCE as it connects.
  `--allow-env=PORT,${REDIS_ENV}${
    redis === undefined ? "" : ",REDIS_DEBUG_MAINTENANCE"
  }`,
  MAIN,
  ...args,
], { stdio: "inherit" });

const forward = (signal) => child.kill(signal);
for (const signal of SIGNALS) process.on(signal, forward);

child.on("error", (error) => {
  console.error(`Cannot start the download server with ${deno}: ${error}`);
  process.exit(127);
});
child.on("exit", (code, signal) => {
  if (signal === null) process.exit(code ?? 1);
  // Die of the same signal, as a shell would report it.
  for (const name of SIGNALS) process.off(name, forward);
  process.kill(process.pid, signal);
});
