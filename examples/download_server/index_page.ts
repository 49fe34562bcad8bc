/**
 * The index page, `/`: the cache's entries, example downloads and the curl
 * commands that try them.
 *
 * @module
 */

import type { EntryInfo } from "./stats.ts";

const EXAMPLES = [
  ["q3-sales.csv", "size=1M&rate=256k", "1 MiB at 256 KiB/s: 4 s"],
  ["yearly.csv", "size=10M&rate=2M", "10 MiB at 2 MiB/s: 5 s"],
  ["tiny.csv", "size=4k&rate=1k", "4 KiB at 1 KiB/s: 4 s"],
] as const;

/**
 * Renders the index page.
 *
 * @param origin The server's origin, for the curl commands.
 * @param entries The cache's entries.
 * @returns The HTML document.
 */
export function indexPage(
  origin: string,
  entries: readonly EntryInfo[],
): string {
  const busy = entries.some((entry) => entry.state === "writing");
  const rows = entries.map((entry) =>
    `<tr><td><a href="${html(entry.key)}">${html(entry.key)}</a></td>` +
    `<td class="n">${entry.size.toLocaleString("en")}</td>` +
    `<td>${entry.state === "complete" ? "complete" : "generating…"}</td></tr>`
  ).join("\n");
  const examples = EXAMPLES.map(([name, query, what]) => {
    const path = `/downloads/${name}?${query}`;
    return `<li><a href="${html(path)}">${html(path)}</a> (${html(what)})</li>`;
  }).join("\n");
  const url = `${origin}/downloads/q3-sales.csv?size=1M&rate=256k`;
  const curl = [
    `# three clients at once: one generation, three identical files`,
    `for i in 1 2 3; do`,
    `  curl -s -o "q3-$i.csv" -w "%{http_code} %{size_download} B in %{time_total} s\\n" \\`,
    `    '${url}' &`,
    `done; wait`,
    `sha256sum q3-*.csv`,
    `# headers only, then the last 100 bytes`,
    `curl -I '${url}'`,
    `curl -s --range -100 '${url}'`,
    `# the counters`,
    `curl -s ${origin}/stats`,
  ].join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>streamcache download server</title>
${busy ? '<meta http-equiv="refresh" content="1">' : ""}
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; } td, th { padding: .2rem .8rem; border-bottom: 1px solid #ddd; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f4f4f4; padding: .8rem; overflow-x: auto; }
</style>
</head>
<body>
<h1>streamcache download server</h1>
<p>Each download is a report generated slowly, at <code>rate</code> bytes per second.
The first request for a name and size generates it; requests that arrive meanwhile
read it while it is generated; later ones get the stored file. Range requests
work on every entry, also while it is generated.
<a href="/stats">/stats</a> has the counters.</p>
<h2>Entries (${entries.length})</h2>
${
    entries.length
      ? `<table>\n<tr><th>key</th><th>bytes</th><th>state</th></tr>\n${rows}\n</table>`
      : "<p>None yet: try an example.</p>"
  }
<h2>Examples</h2>
<p><code>/downloads/&lt;name&gt;?size=&lt;bytes&gt;&amp;rate=&lt;bytes per second&gt;</code>;
sizes and rates take the suffixes k, M and G.</p>
<ul>
${examples}
</ul>
<pre>${html(curl)}</pre>
</body>
</html>
`;
}

function html(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
