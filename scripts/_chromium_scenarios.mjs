// The browser scenarios of scripts/chromium.mjs: a service worker caching an
// origin's generated responses in IndexedDB (tests/browser/service_worker.ts),
// a page that does the browser's part (tests/browser/scenario_page.ts), and
// an origin on the test server that counts its requests and can hold a
// response mid-way until a scenario lets it go. Each scenario throws when it
// fails. Plain JS ESM (Node 20).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Byte `i` of every origin body. */
const byteAt = (i) => (i * 7 + 3) & 0xff;

/** What the page's digest() gives for bytes [start, end) of an origin body. */
export function digest(start, end) {
  let sum = 0;
  for (let i = start; i < end; i++) {
    sum = (Math.imul(sum, 31) + byteAt(i)) >>> 0;
  }
  return { length: end - start, sum };
}

/**
 * The origin: `/origin/<name>?size=N[&hold=M]` sends N bytes, and with
 * `hold` stops after M of them until the scenario calls `release(name)`.
 */
export function origin() {
  const requests = new Map();
  const holds = new Map();
  const hold = (name) => {
    if (!holds.has(name)) {
      let reached, release;
      const state = {
        reached: new Promise((resolve) => reached = resolve),
        released: new Promise((resolve) => release = resolve),
      };
      holds.set(name, Object.assign(state, { reach: reached, release }));
    }
    return holds.get(name);
  };
  const route = async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const name = url.pathname.slice("/origin/".length);
    requests.set(name, (requests.get(name) ?? 0) + 1);
    const size = Number(url.searchParams.get("size") ?? 1000);
    const held = Number(url.searchParams.get("hold") ?? -1);
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(size),
      "cache-control": "public, max-age=3600",
    });
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i++) body[i] = byteAt(i);
    if (held >= 0) {
      res.write(body.subarray(0, held));
      hold(name).reach();
      await hold(name).released;
      res.end(body.subarray(held));
    } else res.end(body);
  };
  return {
    routes: { prefix: "/origin/", route },
    /** How many requests reached `/origin/<name>`. */
    count: (name) => requests.get(name) ?? 0,
    /** Resolves once a held response has sent its first part. */
    reached: (name) => hold(name).reached,
    release: (name) => hold(name).release(),
  };
}

/** A fresh context with the scenario page open and, if asked, controlled by the service worker. */
async function open(context, server, { worker = true } = {}) {
  const page = await context.newPage();
  await page.goto(`${server.origin}/scenario.html`);
  await page.waitForFunction(() => globalThis.scenarios !== undefined);
  if (worker) await page.evaluate(() => scenarios.registerServiceWorker());
  return page;
}

/** The scenarios: [name, run({ browser, server, origin, launch })]. */
export const SCENARIOS = [
  [
    "two concurrent fetches through the service worker reach the origin once",
    async ({ browser, server, origin }) => {
      const context = await browser.newContext();
      try {
        const page = await open(context, server);
        const url = "/cached/two?size=300000";
        const results = await page.evaluate(
          (url) => Promise.all([scenarios.fetch(url), scenarios.fetch(url)]),
          url,
        );
        const whole = {
          status: 200,
          contentRange: null,
          ...digest(0, 300_000),
        };
        assert.deepEqual(results, [whole, whole]);
        assert.equal(
          origin.count("two"),
          1,
          "requests that reached the origin",
        );
      } finally {
        await context.close();
      }
    },
  ],
  [
    "a Range request while the entry is still written is answered from its chunks",
    async ({ browser, server, origin }) => {
      const context = await browser.newContext();
      try {
        const page = await open(context, server);
        const url = "/cached/range?size=500000&hold=200000";
        await page.evaluate((url) => {
          globalThis.whole = scenarios.fetch(url);
        }, url);
        await origin.reached("range");
        const part = await page.evaluate(
          (url) => scenarios.fetch(url, { range: "bytes=150000-150999" }),
          url,
        );
        assert.deepEqual(part, {
          status: 206,
          contentRange: "bytes 150000-150999/500000",
          ...digest(150_000, 151_000),
        });
        origin.release("range");
        const whole = await page.evaluate(() => globalThis.whole);
        assert.deepEqual(whole, {
          status: 200,
          contentRange: null,
          ...digest(0, 500_000),
        });
        assert.equal(origin.count("range"), 1);
      } finally {
        await context.close();
      }
    },
  ],
  [
    "one reader cancelled, the others finish",
    async ({ browser, server, origin }) => {
      const context = await browser.newContext();
      try {
        const page = await open(context, server);
        const url = "/cached/cancel?size=1000000&hold=100000";
        await page.evaluate((url) => {
          globalThis.results = Promise.all([
            scenarios.fetch(url),
            scenarios.fetchAndCancel(url, 20_000),
            scenarios.fetch(url),
          ]);
        }, url);
        await origin.reached("cancel");
        origin.release("cancel");
        const [first, cancelled, third] = await page.evaluate(() =>
          globalThis.results
        );
        const whole = {
          status: 200,
          contentRange: null,
          ...digest(0, 1_000_000),
        };
        assert.deepEqual(first, whole);
        assert.deepEqual(third, whole);
        assert.equal(cancelled.status, 200);
        assert.ok(cancelled.read >= 20_000, `read ${cancelled.read}`);
        assert.equal(origin.count("cancel"), 1);
      } finally {
        await context.close();
      }
    },
  ],
  [
    "two tabs share one generation through the service worker",
    async ({ browser, server, origin }) => {
      const context = await browser.newContext();
      try {
        const first = await open(context, server);
        const second = await open(context, server);
        const url = "/cached/tabs?size=400000&hold=50000";
        await first.evaluate((url) => {
          globalThis.result = scenarios.fetch(url);
        }, url);
        await origin.reached("tabs");
        await second.evaluate((url) => {
          globalThis.result = scenarios.fetch(url);
        }, url);
        origin.release("tabs");
        const whole = {
          status: 200,
          contentRange: null,
          ...digest(0, 400_000),
        };
        assert.deepEqual(await first.evaluate(() => globalThis.result), whole);
        assert.deepEqual(await second.evaluate(() => globalThis.result), whole);
        assert.equal(origin.count("tabs"), 1);
      } finally {
        await context.close();
      }
    },
  ],
  [
    "rule 13: the browser killed mid-write and relaunched on its profile: the partial entry is gone, the next request produces afresh",
    async ({ server, launch, report }) => {
      const profile = fs.mkdtempSync(join(tmpdir(), "streamcache-profile-"));
      try {
        let context = await launch(profile);
        let page = await open(context, server, { worker: false });
        await page.evaluate(() =>
          scenarios.writeAndHang("killed", "partial", 5_000)
        );
        // SIGKILL every process of that browser: nothing runs after.
        const closed = new Promise((resolve) => context.once("close", resolve));
        const pids = execFileSync("ps", ["-eo", "pid=,args="], {
          encoding: "utf8",
        })
          .split("\n")
          .filter((line) => line.includes(`--user-data-dir=${profile}`))
          .map((line) => Number(line.trim().split(/\s+/)[0]));
        assert.ok(pids.length > 0, "the browser's processes");
        for (const pid of pids) {
          try {
            process.kill(pid, "SIGKILL");
          } catch { /* gone with its parent */ }
        }
        await closed;
        context = await launch(profile);
        try {
          page = await open(context, server, { worker: false });
          const before = await page.evaluate(() =>
            scenarios.rawCounts("killed")
          );
          // 4 whole chunks of 1024 were stored; the tail died in memory.
          assert.deepEqual(before, { c: 4, e: 1, w: 1 });
          const after = await page.evaluate(() =>
            scenarios.afterRestart("killed", "partial")
          );
          assert.equal(after.found, false, "never served");
          assert.equal(after.produced, 1, "produced afresh");
          assert.equal(after.text, "afresh");
          const counts = await page.evaluate(() =>
            scenarios.rawCounts("killed")
          );
          assert.deepEqual(counts, { c: 1, e: 1, k: 1 }, "reclaimed");
          report(`reclaimed by the start-up sweep: ${after.reclaimed === 0}`);
        } finally {
          await context.close();
        }
      } finally {
        fs.rmSync(profile, { recursive: true, force: true });
      }
    },
  ],
  [
    "rule 13: another tab's live writer is spared; once that tab is closed, its entry is reclaimed (Web Locks)",
    async ({ browser, server }) => {
      const context = await browser.newContext();
      try {
        const writing = await open(context, server, { worker: false });
        const other = await open(context, server, { worker: false });
        const id = await writing.evaluate(() =>
          scenarios.writeAndHang("tabs-db", "partial", 5_000)
        );
        const spared = await other.evaluate(() => scenarios.sweep("tabs-db"));
        assert.deepEqual(spared, { c: 4, e: 1, w: 1 }, "a live writer's entry");
        const gone = other.evaluate(
          (id) => scenarios.writerGone("tabs-db", id),
          id,
        );
        await writing.close();
        await gone;
        const swept = await other.evaluate(() => scenarios.sweep("tabs-db"));
        assert.deepEqual(swept, {}, "a dead writer's entry is reclaimed");
      } finally {
        await context.close();
      }
    },
  ],
  [
    "rule 1 across tabs: two tabs ask their own caches for one key at once: generated once, identical bytes, the second streams before the first has finished",
    async ({ browser, server, origin, report }) => {
      const context = await browser.newContext();
      try {
        const a = await open(context, server, { worker: false });
        const b = await open(context, server, { worker: false });
        const url = "/origin/both?size=300000&hold=100000";
        const served = await Promise.all(
          [a, b].map((page) =>
            page.evaluate(
              (url) => scenarios.generate("tabs-shared", "k", url),
              url,
            )
          ),
        );
        assert.deepEqual(
          served.map(({ outcome }) => outcome).sort(),
          ["join", "miss"],
        );
        assert.equal(served[0].id, served[1].id, "one entry");
        await origin.reached("both");
        const follower = served[0].outcome === "join" ? a : b;
        // The origin holds the response at 100,000 bytes: the producer
        // cannot finish, and the follower streams what it has stored.
        const early = await follower.evaluate(() => scenarios.firstBytes("k"));
        assert.ok(early > 0 && early <= 100_000, `read ${early} early`);
        origin.release("both");
        const whole = digest(0, 300_000);
        assert.deepEqual(
          await a.evaluate(() => scenarios.finished("k")),
          whole,
        );
        assert.deepEqual(
          await b.evaluate(() => scenarios.finished("k")),
          whole,
        );
        assert.equal(
          origin.count("both"),
          1,
          "requests that reached the origin",
        );
        report(`the follower read ${early} bytes before the producer finished`);
      } finally {
        await context.close();
      }
    },
  ],
  [
    "rule 1: a tab and the service worker share one generation (their own caches over one database)",
    async ({ browser, server, origin }) => {
      const context = await browser.newContext();
      try {
        const page = await open(context, server);
        const url = "/direct/shared?size=300000&hold=100000";
        const worker = await page.evaluate(
          (url) => scenarios.fetchStart("worker", url),
          url,
        );
        assert.deepEqual(worker, { status: 200, outcome: "miss" });
        await origin.reached("shared");
        // The tab's own cache, over the service worker's database.
        const tab = await page.evaluate(() =>
          scenarios.generate(
            "service-worker",
            "direct:shared",
            "/origin/shared?size=300000&hold=100000",
          )
        );
        assert.equal(tab.outcome, "join");
        const early = await page.evaluate(() =>
          scenarios.firstBytes("direct:shared")
        );
        assert.ok(early > 0 && early <= 100_000, `read ${early} early`);
        origin.release("shared");
        const whole = digest(0, 300_000);
        assert.deepEqual(
          await page.evaluate(() => scenarios.finished("direct:shared")),
          whole,
        );
        assert.deepEqual(
          await page.evaluate(() => scenarios.finished("worker")),
          whole,
        );
        assert.equal(origin.count("shared"), 1);
      } finally {
        await context.close();
      }
    },
  ],
  [
    "rule 5, 19: the writing tab closed mid-write: the following tab errors with ProducerLostError, and its next request produces afresh",
    async ({ browser, server, origin }) => {
      const context = await browser.newContext();
      try {
        const writing = await open(context, server, { worker: false });
        const following = await open(context, server, { worker: false });
        const first = await writing.evaluate(() =>
          scenarios.generate(
            "tabs-closing",
            "k",
            "/origin/closing?size=300000&hold=100000",
          )
        );
        assert.equal(first.outcome, "miss");
        await origin.reached("closing");
        const second = await following.evaluate(() =>
          scenarios.generate(
            "tabs-closing",
            "k",
            "/origin/closing?size=300000&hold=100000",
          )
        );
        assert.equal(second.outcome, "join");
        assert.ok(
          await following.evaluate(() => scenarios.firstBytes("k")) > 0,
        );
        await writing.close(); // its locks go with it
        const ended = await following.evaluate(() => scenarios.finished("k"));
        assert.equal(
          ended.error?.name,
          "ProducerLostError",
          JSON.stringify(ended),
        );
        const next = await following.evaluate(() =>
          scenarios.generate("tabs-closing", "k", "/origin/closing?size=5000")
        );
        assert.equal(next.outcome, "miss", "produced afresh");
        assert.notEqual(next.id, first.id);
        assert.deepEqual(
          await following.evaluate(() => scenarios.finished("k")),
          digest(0, 5000),
        );
        assert.equal(origin.count("closing"), 2);
      } finally {
        origin.release("closing");
        await context.close();
      }
    },
  ],
  [
    "rule 18: a quota error (CDP Storage.overrideQuotaForOrigin) fails one entry and harms no other",
    async ({ server, launch, report }) => {
      // A profile on disk: an incognito context's storage is in memory,
      // where the quota override does not reach.
      const profile = fs.mkdtempSync(join(tmpdir(), "streamcache-profile-"));
      const context = await launch(profile);
      try {
        const page = await open(context, server, { worker: false });
        const cdp = await context.newCDPSession(page);
        await cdp.send("Storage.overrideQuotaForOrigin", {
          origin: server.origin,
          quotaSize: 2_000_000,
        });
        const result = await page.evaluate(() =>
          scenarios.quota("quota", 100_000, 20_000_000)
        );
        assert.equal(
          result.error?.name,
          "StreamCacheError",
          JSON.stringify(result),
        );
        assert.equal(result.error?.cause, "QuotaExceededError");
        assert.match(
          result.error?.message ?? "",
          /Cannot (write|commit) entry "big"/,
        );
        assert.equal(result.smallBytes, 100_000, "the other entry is served");
        assert.deepEqual(result.keys, ["small"]);
        report(
          `quota ${result.quota} bytes; the big entry failed: ${result.error?.message}`,
        );
        const counts = await page.evaluate(() => scenarios.rawCounts("quota"));
        assert.deepEqual(
          counts,
          // The big entry's claim keeps why it failed, for late followers,
          // until the key is produced again (or a sweep finds it gone).
          { c: 2, e: 1, k: 1, p: 1 },
          "the big entry's chunks are gone",
        );
        await cdp.send("Storage.overrideQuotaForOrigin", {
          origin: server.origin,
        });
      } finally {
        await context.close();
        fs.rmSync(profile, { recursive: true, force: true });
      }
    },
  ],
];

/**
 * The service-worker example (examples/service_worker/, served by
 * `npm run demo:browser`), on a server of its own: what a user sees.
 */
/** The example page's log, without the times. */
const log = (page) =>
  page.evaluate(() =>
    [...document.querySelectorAll("#log li")].map((li) =>
      li.textContent.replace(/^\S+\s+/, "")
    )
  );

export const EXAMPLE_SCENARIOS = [
  [
    "examples/service_worker: a report asked for twice at once and after a reload is generated once; its WAV seeks as media",
    async ({ browser, example }) => {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(`${example.origin}/`);
        await page.waitForFunction(() =>
          document.querySelector("#log")?.textContent?.includes("is ready")
        );
        const url = "/generated/report.csv?size=20000";
        const [a, b] = await page.evaluate(
          (url) =>
            Promise.all(
              [1, 2].map(async () => await (await fetch(url)).text()),
            ),
          url,
        );
        assert.equal(a, b);
        assert.equal(
          a.split("\n").length,
          20_002,
          "a header, 20,000 rows, an end",
        );
        const served = await log(page);
        await page.reload();
        await page.waitForFunction(() =>
          document.querySelector("#log")?.textContent?.includes("is ready")
        );
        assert.equal(
          await page.evaluate((url) => fetch(url).then((r) => r.text()), url),
          a,
        );
        // <audio> asks with Range, and seeking is answered from the chunks.
        const media = await page.evaluate(async () => {
          const audio = document.querySelector("audio");
          audio.preload = "auto";
          audio.src = "/generated/tones.wav?size=5";
          await new Promise((resolve, reject) => {
            audio.onloadedmetadata = resolve;
            audio.onerror = () =>
              reject(new Error(`audio: ${audio.error?.message}`));
          });
          audio.currentTime = 3.5;
          await new Promise((resolve) => audio.onseeked = resolve);
          return { duration: audio.duration, at: audio.currentTime };
        });
        assert.equal(Math.round(media.duration), 5);
        assert.equal(media.at, 3.5);
        served.push(...await log(page));
        const reports = served.filter((line) => line.includes("report.csv"));
        assert.deepEqual(
          reports.map((line) => line.split(" ")[0]),
          // The two at once: one generates, the other joins (told in
          // either order); after the reload, a hit.
          reports[0]?.startsWith("miss")
            ? ["miss", "join", "hit"]
            : ["join", "miss", "hit"],
          served.join("\n"),
        );
        assert.ok(
          served.some((line) => /tones\.wav \(bytes=\d+-/.test(line)),
          `a Range request for the WAV:\n${served.join("\n")}`,
        );
      } finally {
        await context.close();
      }
    },
  ],
];
