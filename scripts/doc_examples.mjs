// Checks that every symbol exported by deno.json's entry points has a titled
// @example in its JSDoc (STYLE.md: "Every export: ... a titled @example").
// Plain JS ESM that runs on Node 20 (the system node).
//
//   node scripts/doc_examples.mjs
//
// Reads `deno doc --json <every export>`; one test per exported symbol. A
// title is the text between @example and its code block. Prints each symbol
// without one, then "N passed, N failed"; exits 1 when any failed, 2 when
// deno doc itself fails.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
process.chdir(ROOT);

const entries = Object.values(
  JSON.parse(fs.readFileSync("deno.json", "utf8")).exports,
);
const doc = spawnSync("node_modules/.bin/deno", ["doc", "--json", ...entries], {
  encoding: "utf8",
  env: { ...process.env, NO_COLOR: "1" },
  maxBuffer: 256 * 1024 * 1024,
});
if (doc.status !== 0) {
  console.error(`deno doc --json ${entries.join(" ")} failed:`);
  console.error(`${doc.error?.message ?? ""}${doc.stdout}${doc.stderr}`);
  process.exit(2);
}

/** The title of an @example tag: its text before the code block, if any. */
const title = (tag) => (tag.doc ?? "").split(/^\s*```/m)[0].trim();
const where = (url) => relative(ROOT, fileURLToPath(url));

let passed = 0;
const failed = [];
for (const [url, { symbols }] of Object.entries(JSON.parse(doc.stdout).nodes)) {
  for (const { name, declarations } of symbols) {
    const titled = declarations.some(({ jsDoc }) =>
      (jsDoc?.tags ?? []).some((tag) => tag.kind === "example" && title(tag))
    );
    if (titled) {
      passed++;
      continue;
    }
    const { filename, line } = declarations[0]?.location ?? {};
    const at = filename ? `${where(filename)}:${line + 1}` : "?"; // 0-based
    failed.push(`${name} (exported by ${where(url)}, declared at ${at})`);
  }
}

if (failed.length) {
  console.log("Exported symbols without a titled @example:");
  for (const symbol of failed) console.log(`  ${symbol}`);
}
console.log(`${passed} passed, ${failed.length} failed`);
process.exitCode = failed.length || !passed ? 1 : 0;
