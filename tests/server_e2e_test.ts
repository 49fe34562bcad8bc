// The download server (examples/download_server/) end to end: a child
// process of the runtime running this test (Deno, Bun, Node), on a free port
// and a temp cache directory, driven by real clients (curl, wget -c, aria2c
// -x8, from Debian) and the runtime's own fetch. Its log lines, read from its
// stdout, are the events the tests wait for; every body is checked against
// the report's deterministic bytes. A first describe() drives the app in
// process, without a socket; the last one runs `npm start` as a process
// manager would, and stops it with signals.

import { after, before, describe, it } from "./_testing.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { StreamCache } from "../mod.ts";
import { createApp } from "../examples/download_server/app.ts";
import { reportBytes } from "../examples/download_server/generate.ts";
import { curl, run, skipReason, start } from "./_server_clients.ts";
import { ServerProcess } from "./_server_process.ts";

/**
 * Bun.serve drops the Content-Length a handler sets on a streamed body and
 * sends it chunked (oven-sh/bun#10507, open in Bun 1.4): on Bun a streamed
 * response may lack it. HEAD responses, which have no body, keep it.
 */
function assertStreamedLength(response: Response, length: number): void {
  const header = response.headers.get("content-length");
  if ("Bun" in globalThis && header === null) return;
  assert.equal(header, String(length));
}

/** The repository (Node 20 runs this file built, from .build/tests/). */
const ROOT = fileURLToPath(
  new URL(import.meta.url.endsWith(".js") ? "../../" : "../", import.meta.url),
);

/** The child process tests wait for a server: more than Bun's default 5 s per test. */
const SLOW = { timeout: 20_000 };

/**
 * The `Cache-Status` (RFC 9211) of each way the cache serves a request:
 * a miss forwards, a join is a miss collapsed into another's generation
 * (§2.7), a hit is served from the cache; what never reaches it bypasses.
 */
const CACHE_STATUS: Record<string, string> = {
  miss: "streamcache; fwd=miss",
  join: "streamcache; fwd=miss; collapsed",
  hit: "streamcache; hit",
  "-": "streamcache; fwd=bypass",
};

const sha256 = (bytes: Uint8Array): string =>
  createHash("sha256").update(bytes).digest("hex");

/** A download: its URL path and query, its cache key, and its expected bytes. */
function download(name: string, size: number, rate: number) {
  const key = `/downloads/${name}?size=${size}`;
  return {
    key,
    target: `${key}&rate=${rate}`,
    size,
    bytes: (start = 0, end = size) => reportBytes(name, size, start, end),
    sha: sha256(reportBytes(name, size)),
  };
}

async function body(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

/** The value of header `name` in a raw HTTP/1.1 header block (curl -D, -I). */
function headerOf(block: string, name: string): string | undefined {
  const line = block.split("\r\n").find((l) =>
    l.toLowerCase().startsWith(`${name}:`)
  );
  return line?.slice(name.length + 1).trim();
}

interface Stats {
  misses: number;
  joins: number;
  hits: number;
  uncacheable: number;
  rejected: number;
  generations: { started: number; completed: number; failed: number };
  entries: number;
  inProgress: number;
  bytes: number;
}

describe("download server app (in process, no socket)", () => {
  it("serves a generated report, counts it in /stats, and refuses bad parameters with 400", async () => {
    const cache = new StreamCache();
    try {
      const lines: string[] = [];
      const app = createApp({ cache, log: (line) => lines.push(line) });
      const at = (path: string, init?: RequestInit) =>
        app.fetch(new Request(`http://app.test${path}`, init));
      const d = download("inproc.csv", 10_000, 1 << 30);
      const response = await at(d.target);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-length"), "10000");
      assert.equal(
        response.headers.get("content-type"),
        "text/csv; charset=utf-8",
      );
      const bytes = await body(response);
      assert.equal(sha256(bytes), d.sha);
      assert.match(
        new TextDecoder().decode(bytes.subarray(0, 64)),
        /^ +id,region,/,
      );

      assert.equal(response.headers.get("cache-status"), CACHE_STATUS.miss);
      const again = await at(d.target, { method: "HEAD" });
      assert.equal(again.headers.get("cache-status"), CACHE_STATUS.hit);

      const bad = await at("/downloads/inproc.csv?size=12x");
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get("cache-status"), CACHE_STATUS["-"]);
      assert.match(await bad.text(), /size must be a whole number of bytes/);
      assert.equal((await at("/nowhere")).status, 404);
      assert.equal((await at("/stats", { method: "POST" })).status, 405);

      const statsResponse = await at("/stats");
      assert.equal(
        statsResponse.headers.get("cache-status"),
        CACHE_STATUS["-"],
        "RFC 9211: every response says how the cache handled it",
      );
      const stats = await statsResponse.json() as Stats;
      assert.equal(stats.misses, 1);
      assert.equal(stats.rejected, 1);
      assert.equal(stats.entries, 1);
      assert.equal(stats.bytes, 10_000);
      const page = await (await at("/")).text();
      assert.ok(page.includes(d.key), "the index lists the entry");
      assert.match(
        lines.join("\n"),
        /^miss +200 GET \/downloads\/inproc\.csv/m,
      );
    } finally {
      await cache.close();
    }
  });
});

describe("download server end to end (child process, real clients)", () => {
  let dir: string;
  let server: ServerProcess;
  let restarted: ServerProcess | undefined;
  /** Downloads that earlier tests completed, for the restart test. */
  const completed: ReturnType<typeof download>[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "streamcache-server-"));
    server = await ServerProcess.start(join(dir, "cache"));
  }, SLOW);

  after(async () => {
    await server?.stop("SIGKILL");
    await restarted?.stop("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }, SLOW);

  const stats = async (on = server): Promise<Stats> =>
    await (await fetch(on.at("/stats"))).json() as Stats;

  it(
    "curl: parallel downloads get one generation and identical bytes, each with its Cache-Status (RFC 9211); --range and -I work",
    { ...SLOW, skip: skipReason("curl") },
    async () => {
      const d = download("curl.csv", 300_000, 1 << 20);
      const url = server.at(d.target);
      const files = [1, 2, 3, 4].map((i) => join(dir, `curl-${i}.csv`));
      const runs = await Promise.all(
        files.map((file) =>
          curl([
            ...["-o", file, "-D", `${file}.headers`],
            ...["-w", "%{http_code} %{size_download}", url],
          ])
        ),
      );
      for (const run of runs) {
        assert.equal(run.code, 0, run.stderr);
        assert.equal(new TextDecoder().decode(run.stdout), "200 300000");
      }
      for (const file of files) {
        assert.equal(sha256(await readFile(file)), d.sha, file);
      }
      const logged = await server.waitForRequests(d.target, 4);
      // One miss; a curl that connected after the generation ended is a hit.
      assert.ok(
        logged.every((r) => ["miss", "join", "hit"].includes(r.outcome)),
      );
      assert.equal(logged.filter((r) => r.outcome === "miss").length, 1);
      assert.equal(
        server.lines.filter((l) => l.startsWith(`generating ${d.key} `)).length,
        1,
        "one generation",
      );
      // Each curl was told what the log says of its request.
      const told = await Promise.all(
        files.map(async (file) =>
          headerOf(await readFile(`${file}.headers`, "utf8"), "cache-status")
        ),
      );
      assert.deepEqual(
        told.sort(),
        logged.map((r) => CACHE_STATUS[r.outcome]).sort(),
      );
      // The last body can end before the entry is committed: the HEAD below
      // expects the ETag of a complete entry.
      assert.equal(await server.waitForStored(d.key), d.size);
      completed.push(d);

      const ranged = await curl([
        "--range",
        "1000-1999",
        "-D",
        join(dir, "range-headers"),
        url,
      ]);
      assert.equal(ranged.code, 0, ranged.stderr);
      assert.deepEqual(ranged.stdout, d.bytes(1000, 2000));
      const rangeHeaders = await readFile(join(dir, "range-headers"), "utf8");
      assert.match(rangeHeaders, /^HTTP\/1\.1 206 /);
      assert.match(
        rangeHeaders,
        /^content-range: bytes 1000-1999\/300000\r$/im,
      );
      assert.equal(headerOf(rangeHeaders, "cache-status"), CACHE_STATUS.hit);

      const head = await curl(["-I", url]);
      assert.equal(head.code, 0, head.stderr);
      const headers = new TextDecoder().decode(head.stdout);
      assert.match(headers, /^HTTP\/1\.1 200 /);
      assert.match(headers, /^content-length: 300000\r$/im);
      assert.match(headers, /^accept-ranges: bytes\r$/im);
      assert.match(headers, /^etag: "[^"]+"\r$/im);
      assert.equal(headerOf(headers, "cache-status"), CACHE_STATUS.hit);
      assert.ok(headers.endsWith("\r\n\r\n"), "headers only, no body");
    },
  );

  it(
    "fetch: 20 concurrent downloads of a new file run one generation and get identical bytes (rule 1)",
    SLOW,
    async () => {
      const d = download("twenty.csv", 500_000, 2 << 20);
      const before = await stats();
      const told: string[] = [];
      const hashes = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const response = await fetch(server.at(d.target));
          assert.equal(response.status, 200);
          assertStreamedLength(response, 500_000);
          told.push(response.headers.get("cache-status") ?? "none");
          return sha256(await body(response));
        }),
      );
      assert.deepEqual(new Set(hashes), new Set([d.sha]));
      const logged = await server.waitForRequests(d.target, 20);
      assert.deepEqual(
        told.sort(),
        logged.map((r) => CACHE_STATUS[r.outcome]).sort(),
        "each response's Cache-Status says what the log says",
      );
      assert.equal(logged.filter((r) => r.outcome === "miss").length, 1);
      assert.ok(
        logged.every((r) => ["miss", "join", "hit"].includes(r.outcome)),
      );
      assert.ok(logged.every((r) => r.bytes === 500_000 && !r.note));
      assert.equal(await server.waitForStored(d.key), 500_000);
      assert.equal(
        server.lines.filter((l) => l.startsWith(`generating ${d.key} `)).length,
        1,
      );
      const now = await stats();
      assert.equal(now.misses - before.misses, 1);
      assert.equal(now.joins + now.hits - before.joins - before.hits, 19);
      assert.equal(now.generations.started - before.generations.started, 1);
      assert.equal(now.generations.completed - before.generations.completed, 1);
      assert.equal(now.entries - before.entries, 1);
      assert.equal(now.bytes - before.bytes, 500_000);
      completed.push(d);
    },
  );

  it(
    "a complete entry is a hit with an ETag; If-None-Match gets 304, HEAD no body, a Range past the end 416",
    SLOW,
    async () => {
      const d = completed.at(-1)!;
      const url = server.at(d.target);
      const hit = await fetch(url);
      assert.equal(hit.headers.get("cache-status"), CACHE_STATUS.hit);
      const etag = hit.headers.get("etag");
      assert.match(etag ?? "", /^"[^"]+"$/);
      assert.equal(sha256(await body(hit)), d.sha);

      const notModified = await fetch(url, {
        headers: { "if-none-match": etag! },
      });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.get("cache-status"), CACHE_STATUS.hit);
      assert.equal((await body(notModified)).byteLength, 0);

      const head = await fetch(url, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), String(d.size));
      assert.equal(head.headers.get("etag"), etag);
      assert.equal((await body(head)).byteLength, 0);

      const past = await fetch(url, { headers: { range: `bytes=${d.size}-` } });
      assert.equal(past.status, 416);
      assert.equal(past.headers.get("content-range"), `bytes */${d.size}`);
      await past.body?.cancel();

      const logged = (await server.waitForRequests(d.target, 24)).slice(20);
      assert.deepEqual(
        logged.map((r) => `${r.outcome} ${r.status} ${r.method}`),
        ["hit 200 GET", "hit 304 GET", "hit 200 HEAD", "hit 416 GET"],
      );
    },
  );

  it(
    "a Range of an entry still being generated gets 206 and the right bytes once they exist (rule 8)",
    SLOW,
    async () => {
      const d = download("ranged.csv", 120_000, 100 << 10); // ~1.2 s
      const whole = await fetch(server.at(d.target)); // the miss: it generates
      const ranged = await fetch(server.at(d.target), {
        headers: { range: "bytes=100000-100999" },
      });
      assert.equal(ranged.status, 206);
      assert.equal(
        ranged.headers.get("content-range"),
        "bytes 100000-100999/120000",
      );
      assertStreamedLength(ranged, 1000);
      assert.match(
        ranged.headers.get("etag") ?? "",
        /^"/,
        "strong from the first byte",
      );
      assert.equal(ranged.headers.get("cache-status"), CACHE_STATUS.join);
      assert.deepEqual(await body(ranged), d.bytes(100_000, 101_000));
      assert.equal(sha256(await body(whole)), d.sha);
      const logged = await server.waitForRequests(d.target, 2);
      assert.deepEqual(
        logged.map((r) => `${r.outcome} ${r.status}`).sort(),
        ["join 206", "miss 200"],
      );
      assert.equal(await server.waitForStored(d.key), d.size);
      completed.push(d);
    },
  );

  it(
    "a client that disconnects mid-download does not stop the generation; the entry is then a hit",
    SLOW,
    async () => {
      const d = download("abandoned.csv", 200_000, 200 << 10); // ~1 s
      const client = new AbortController();
      const response = await fetch(server.at(d.target), {
        signal: client.signal,
      });
      const reader = response.body!.getReader();
      const first = await reader.read();
      assert.ok(!first.done && first.value.byteLength > 0);
      client.abort();
      await reader.closed.catch(() => {});

      const [gone] = await server.waitForRequests(d.target, 1);
      assert.equal(gone!.outcome, "miss");
      assert.equal(gone!.note, "client disconnected");
      assert.ok(
        gone!.bytes < d.size,
        `sent ${gone!.bytes} bytes before the disconnect`,
      );
      assert.equal(await server.waitForStored(d.key), d.size);

      const hit = await fetch(server.at(d.target));
      assert.equal(sha256(await body(hit)), d.sha);
      const [, again] = await server.waitForRequests(d.target, 2);
      assert.equal(again!.outcome, "hit");
      completed.push(d);
    },
  );

  it(
    "wget -c resumes a download cut off mid-generation: the rest is a join answered 206 from the same generation, and the file's checksum is right (RFC 9110 §14)",
    { ...SLOW, skip: skipReason("wget") },
    async () => {
      const d = download("resumed.csv", 600_000, 100 << 10); // ~6 s
      const file = join(dir, "resumed.csv");
      const args = [
        ...["-c", "-O", file, "--progress=dot:default"],
        server.at(d.target),
      ];
      const first = start("wget", args);
      // 20 dots: 20 KiB received. Then it is cut off, as a lost connection
      // or a killed client would be, while the report is still generated.
      await first.waitForStderr(/ 0K \.{10} \.{10}/);
      first.kill("SIGKILL");
      await first.exited;
      const kept = (await stat(file)).size;
      assert.ok(kept > 0 && kept < d.size, `wget kept ${kept} bytes`);

      const resumed = await run("wget", args);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stderr, /206 Partial Content/);
      assert.equal(sha256(await readFile(file)), d.sha);

      const [cut, rest] = await server.waitForRequests(d.target, 2);
      assert.deepEqual(
        [cut!.outcome, cut!.status, cut!.note],
        ["miss", 200, "client disconnected"],
      );
      assert.deepEqual(
        [rest!.outcome, rest!.status, rest!.bytes],
        ["join", 206, d.size - kept],
        "resumed from the bytes wget kept, while the report was generated",
      );
      assert.equal(
        server.lines.filter((l) => l.startsWith(`generating ${d.key} `)).length,
        1,
        "one generation",
      );
      assert.equal(await server.waitForStored(d.key), d.size);
      completed.push(d);
    },
  );

  it(
    "aria2c -x8 downloads a cold URL in segments: one generation, and aria2c checks the SHA-256",
    { timeout: 30_000, skip: skipReason("aria2c") },
    async () => {
      const d = download("segmented.csv", 8 << 20, 4 << 20); // ~2 s
      const result = await run("aria2c", [
        ...["-x8", "-s8", "-k1M", "--file-allocation=none"],
        ...["--summary-interval=0", "--console-log-level=warn"],
        `--checksum=sha-256=${d.sha}`,
        ...["-d", dir, "-o", "segmented.csv", server.at(d.target)],
      ]);
      const output = new TextDecoder().decode(result.stdout) + result.stderr;
      assert.equal(result.code, 0, output);
      assert.equal(sha256(await readFile(join(dir, "segmented.csv"))), d.sha);
      assert.equal(await server.waitForStored(d.key), d.size);
      assert.equal(
        server.lines.filter((l) => l.startsWith(`generating ${d.key} `)).length,
        1,
        "one generation",
      );
      if (!("Bun" in globalThis)) {
        // aria2c splits once the first response gives the length; Bun.serve
        // drops a streamed response's Content-Length (oven-sh/bun#10507), so
        // on Bun aria2c downloads with one connection.
        await server.waitFor(
          "a ranged request of aria2c",
          () => server.requests(d.target).find((r) => r.status === 206),
        );
      }
      const logged = server.requests(d.target);
      assert.equal(logged.filter((r) => r.outcome === "miss").length, 1);
      assert.ok(
        logged.every((r) => ["miss", "join", "hit"].includes(r.outcome)),
        logged.map((r) => `${r.outcome} ${r.status}`).join(", "),
      );
      completed.push(d);
    },
  );

  it(
    "a bad parameter gets 400 with the reason, and nothing is cached or generated",
    SLOW,
    async () => {
      const before = await stats();
      const cases: [string, RegExp][] = [
        ["/downloads/bad.csv?size=abc", /size must be a whole number of bytes/],
        ["/downloads/bad.csv?size=0", /size must be .* from 1 to 1073741824/],
        ["/downloads/bad.csv?size=2G", /size must be .* from 1 to 1073741824/],
        ["/downloads/bad.csv?rate=10", /rate must be .* bytes per second/],
        ["/downloads/..%2Fetc%2Fpasswd", /name must be/],
        ["/downloads/bad.csv?size=1k&color=red", /unknown parameter "color"/],
        ["/downloads/bad.csv?size=1k&size=2k", /given more than once/],
      ];
      for (const [path, reason] of cases) {
        const response = await fetch(server.at(path));
        assert.equal(response.status, 400, path);
        assert.match(await response.text(), reason, path);
      }
      const now = await stats();
      assert.equal(now.rejected - before.rejected, cases.length);
      assert.equal(now.entries, before.entries);
      assert.equal(now.misses, before.misses);
      assert.equal(now.generations.started, before.generations.started);
      assert.ok(
        !server.lines.some((l) =>
          /^generating \/downloads\/(bad|\.\.)/.test(l)
        ),
      );
    },
  );

  it(
    "the index page lists the entries with their state, and examples",
    SLOW,
    async () => {
      const response = await fetch(server.at("/"));
      assert.equal(
        response.headers.get("content-type"),
        "text/html; charset=utf-8",
      );
      assert.equal(response.headers.get("cache-status"), CACHE_STATUS["-"]);
      const page = await response.text();
      for (const d of completed) {
        assert.match(
          page,
          new RegExp(
            `>${d.key.replace("?", "\\?")}</a></td>.*<td>complete</td>`,
          ),
          d.key,
        );
      }
      assert.match(page, /curl /);
    },
  );

  it(
    "SIGTERM stops the server cleanly (exit 0), dropping a generation in progress; a restart serves the old entries as hits",
    SLOW,
    async () => {
      const slow = download("interrupted.csv", 100_000, 10 << 10); // ~10 s
      const pending = await fetch(server.at(slow.target));
      const reading = body(pending).then((b) => b.byteLength, () => -1);
      await server.waitFor(
        "the slow generation",
        (lines) => lines.find((l) => l.startsWith(`generating ${slow.key} `)),
      );

      const exit = await server.stop("SIGTERM");
      assert.deepEqual(exit, { code: 0, signal: null }, server.stderr);
      assert.ok(server.lines.includes("stopped"));
      const received = await reading;
      assert.ok(
        received < slow.size,
        `the client got ${received} bytes: not all`,
      );

      const next = await ServerProcess.start(join(dir, "cache"));
      restarted = next;
      const before = await stats(next);
      assert.equal(before.entries, completed.length, "the old entries, only");
      for (const d of completed) {
        const response = await fetch(next.at(d.target));
        assert.equal(sha256(await body(response)), d.sha, d.key);
        const [served] = await next.waitForRequests(d.target, 1);
        assert.equal(served!.outcome, "hit", d.key);
      }
      // The interrupted one was never stored: it is generated afresh (fast now).
      const fresh = await fetch(next.at(`${slow.key}&rate=1G`));
      assert.equal(sha256(await body(fresh)), slow.sha);
      const [again] = await next.waitForRequests(`${slow.key}&rate=1G`, 1);
      assert.equal(again!.outcome, "miss");

      const second = await next.stop("SIGTERM");
      assert.deepEqual(second, { code: 0, signal: null }, next.stderr);
    },
  );
});

/** Whether process `pid` exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === "ESRCH") return false;
    throw error;
  }
}

describe("npm start: the download server as a process manager runs it (npm, start.mjs, Deno)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "streamcache-npm-start-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** `npm start -- --port 0 --dir <cache>`, from the repository's root. */
  const npmStart = (cache: string, detached = false) =>
    ServerProcess.spawn(
      "npm",
      ["start", "--", "--port", "0", "--dir", cache],
      { cwd: ROOT, detached },
    );

  /** The server's own pid, from its `cache: … pid N` line. */
  const serverPid = async (npm: ServerProcess): Promise<number> => {
    const line = await npm.waitFor(
      "the cache line",
      (lines) => lines.find((l) => l.startsWith("cache: ")),
    );
    return Number(/, pid (\d+)$/.exec(line)?.[1]);
  };

  it(
    "`npm start -- --dir X` serves and keeps its downloads in X; SIGTERM to npm stops the server (exit 0) and leaves no process behind",
    SLOW,
    async () => {
      const cache = join(dir, "not", "made", "yet");
      const npm = await npmStart(cache);
      try {
        const pid = await serverPid(npm);
        assert.ok(pid !== npm.pid && alive(pid), "the server is npm's child");
        const d = download("npm.csv", 10_000, 1 << 30);
        const response = await fetch(npm.at(d.target));
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("cache-status"), CACHE_STATUS.miss);
        assert.equal(sha256(await body(response)), d.sha);
        assert.equal(await npm.waitForStored(d.key), d.size);
        const files = await readdir(cache, { recursive: true });
        assert.ok(files.length > 0, `the cache is in ${cache}`);

        const exit = await npm.stop("SIGTERM"); // to npm, as a process manager does
        assert.deepEqual(exit, { code: 0, signal: null }, npm.stderr);
        assert.ok(
          npm.lines.includes("SIGTERM: stopping"),
          npm.lines.join("\n"),
        );
        assert.ok(npm.lines.includes("stopped"));
        assert.equal(alive(pid), false, `the server (pid ${pid}) is gone`);
        await assert.rejects(fetch(npm.url), "nothing listens any more");
      } finally {
        await npm.stop("SIGKILL");
      }
    },
  );

  it(
    "Ctrl-C (SIGINT to npm's whole process group, up to three times to the server) stops it once, exit 0",
    SLOW,
    async () => {
      const npm = await npmStart(join(dir, "ctrl-c"), true);
      try {
        const pid = await serverPid(npm);
        const exit = await npm.signalGroup("SIGINT");
        assert.deepEqual(exit, { code: 0, signal: null }, npm.stderr);
        assert.deepEqual(
          npm.lines.filter((l) => / stopping$|^stopped$/.test(l)),
          ["SIGINT: stopping", "stopped"],
        );
        assert.equal(alive(pid), false, `the server (pid ${pid}) is gone`);
      } finally {
        await npm.stop("SIGKILL");
      }
    },
  );
});
