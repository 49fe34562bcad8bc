/**
 * The page of the browser example: registers the service worker
 * (examples/service_worker/sw.ts), asks for its generated downloads, and
 * logs how each request was served.
 *
 * @module
 */

// The little of the DOM this file uses (it is type-checked without the DOM library).
interface Element {
  textContent: string | null;
  append(...nodes: (Element | string)[]): void;
  addEventListener(type: string, listener: () => void): void;
}
interface Page {
  document: {
    querySelector(selector: string): Element & { src?: string; value?: string };
    createElement(tag: string): Element;
  };
  navigator: {
    serviceWorker: {
      register(url: string, options: { type: "module" }): Promise<unknown>;
      ready: Promise<unknown>;
      addEventListener(
        type: string,
        listener: (event: { data: unknown }) => void,
      ): void;
    };
  };
}
const { document, navigator } = globalThis as unknown as Page;
const log = document.querySelector("#log");

function say(text: string): void {
  const line = document.createElement("li");
  line.textContent = `${new Date().toISOString().slice(11, 19)}  ${text}`;
  log.append(line);
}

navigator.serviceWorker.addEventListener("message", ({ data }) => {
  const { key, outcome, range } = data as {
    key: string;
    outcome: string;
    range: string | null;
  };
  say(
    `${outcome.padEnd(5)} ${new URL(key).pathname}${
      range ? ` (${range})` : ""
    }`,
  );
});
await navigator.serviceWorker.register("/sw.js", { type: "module" });
await navigator.serviceWorker.ready;
say(
  "the service worker is ready: downloads are generated once and kept in IndexedDB",
);

document.querySelector("#report").addEventListener("click", async () => {
  const started = performance.now();
  const response = await fetch("/generated/report.csv");
  const bytes = (await response.arrayBuffer()).byteLength;
  say(
    `report.csv: ${bytes} B in ${Math.round(performance.now() - started)} ms`,
  );
});
document.querySelector("#tones").addEventListener("click", () => {
  document.querySelector("audio").src = "/generated/tones.wav";
});
