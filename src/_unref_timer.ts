// Timers that never keep a process alive by themselves, on every runtime: Node and Bun return a Timeout with unref(); Deno returns a number
// that Deno.unrefTimer() takes; browsers have neither and need neither.

/**
 * Runs `task` every `ms` milliseconds until the returned function is called,
 * without keeping the process alive for it (SEMANTICS 12).
 */
export function unrefInterval(task: () => void, ms: number): () => void {
  const timer: unknown = setInterval(task, ms);
  unref(timer);
  return () => clearInterval(timer as number);
}

/**
 * Runs `task` once after `ms` milliseconds, without keeping the process
 * alive for it; returns the timer, for `clearTimeout`.
 */
export function unrefTimeout(
  task: () => void,
  ms: number,
): ReturnType<typeof setTimeout> {
  const timer = setTimeout(task, ms);
  unref(timer);
  return timer;
}

function unref(timer: unknown): void {
  if (typeof (timer as { unref?: unknown })?.unref === "function") {
    (timer as { unref(): void }).unref();
  } else {
    const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } })
      .Deno;
    deno?.unrefTimer?.(timer as number);
  }
}
