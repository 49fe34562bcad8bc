// `npm run demo:browser`: the service-worker example (examples/service_worker/)
// bundled for the browser and served on http://127.0.0.1:8787/ (PORT to
// change it) until interrupted. Plain JS ESM (Node 20).
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { ROOT } from "./_exec.mjs";
import { bundle } from "./_browser_bundle.mjs";
import { serve } from "./_static_server.mjs";

const EXAMPLE = "examples/service_worker";
const port = Number(process.env.PORT ?? 8787);
const dir = fs.mkdtempSync(join(tmpdir(), "streamcache-demo-"));
await bundle({ sw: `${EXAMPLE}/sw.ts`, page: `${EXAMPLE}/page.ts` }, dir);
fs.copyFileSync(join(ROOT, EXAMPLE, "index.html"), join(dir, "index.html"));
const server = await serve(dir, { port, index: "index.html" });
console.log(
  `the service-worker example on ${server.origin}/ (Ctrl-C stops it)`,
);
const stop = async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
