// Checks the JSDoc examples, which `deno test --doc` runs as tests:
// - every symbol exported by deno.json's entry points has a titled @example
//   (STYLE.md: "Every export: ... a titled @example"). From `deno doc --json
//   <every export>`; a title is the text between @example and its code block;
// - every @example in mod.ts and src/ (of a symbol, a member or a module)
//   runs and checks what it shows: its code block is not `ignore`d and it
//   asserts something (node:assert), so a broken example fails the suite
//   rather than printing a wrong value nobody reads.
// Plain JS ESM that runs on Node 20 (the system node).
//
//   node scripts/doc_examples.mjs
//
// One test per exported symbol and one per example. Prints each failure, then
// "N passed, N failed"; exits 1 when any failed, 2 when deno doc itself fails.
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

/** The files `deno test --doc` takes examples from: mod.ts and src/. */
function sources(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith(".ts") ? [path] : [];
  });
}
const unchecked = [];
for (const file of ["mod.ts", ...sources("src")].sort()) {
  const lines = fs.readFileSync(file, "utf8").split("\n")
    .map((line) => line.replace(/^\s*\* ?/, ""));
  lines.forEach((line, i) => {
    if (!/^@example\b/.test(line)) return;
    const open = lines.findIndex((l, j) => j > i && /^```/.test(l));
    const close = lines.findIndex((l, j) => j > open && /^```\s*$/.test(l));
    const at = `${file}:${i + 1} (${line})`;
    const code = lines.slice(open + 1, close).join("\n");
    if (open < 0 || close < 0) unchecked.push(`${at}: no code block`);
    else if (/\bignore\b/.test(lines[open])) {
      unchecked.push(`${at}: marked ignore, so it never runs`);
    } else if (!/\bassert\b/.test(code)) {
      unchecked.push(`${at}: asserts nothing`);
    } else passed++;
  });
}

if (failed.length) {
  console.log("Exported symbols without a titled @example:");
  for (const symbol of failed) console.log(`  ${symbol}`);
}
if (unchecked.length) {
  console.log("Examples that check nothing:");
  for (const example of unchecked) console.log(`  ${example}`);
}
failed.push(...unchecked);
console.log(`${passed} passed, ${failed.length} failed`);
process.exitCode = failed.length || !passed ? 1 : 0;
