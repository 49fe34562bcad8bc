// What a store's writers tell the other contexts of the origin, on one
// broadcast channel per database, and how a store listens: a claimed entry
// was created, grew (by chunks stored, so readable from IndexedDB), was
// committed, or failed. Followers wake on these, never on a timer. A
// broadcast channel does not hear itself, so each message also reaches the
// listeners of the store that posts it.

import type { IndexedDbSharing } from "./idb_sharing.ts";

/** A message of the database's channel. */
export type Message =
  | { readonly kind: "created"; readonly hash: string; readonly id: string }
  | { readonly kind: "grew"; readonly id: string; readonly size: number }
  | { readonly kind: "committed"; readonly id: string; readonly size: number }
  | { readonly kind: "failed"; readonly id: string; readonly reason: string };

type Listener = (message: Message) => void;

/** A store's end of its database's channel, opened at the first use. */
export class Messages {
  readonly #sharing: IndexedDbSharing;
  readonly #name: string;
  #channel: ReturnType<IndexedDbSharing["channel"]> | undefined;
  readonly #listeners = new Set<Listener>();
  #closed = false;

  constructor(sharing: IndexedDbSharing, database: string) {
    this.#sharing = sharing;
    this.#name = `streamcache:idb:${database}`;
  }

  #open(): ReturnType<IndexedDbSharing["channel"]> | undefined {
    if (this.#closed) return undefined;
    if (!this.#channel) {
      this.#channel = this.#sharing.channel(this.#name);
      this.#channel.addEventListener("message", (event) => {
        const message = event.data as Message | undefined;
        if (typeof message?.kind === "string") this.#deliver(message);
      });
    }
    return this.#channel;
  }

  #deliver(message: Message): void {
    for (const listener of [...this.#listeners]) listener(message);
  }

  /** Tells every context (this one too). */
  post(message: Message): void {
    this.#open()?.postMessage(message);
    this.#deliver(message);
  }

  /** Calls `listener` with every message until the returned function is called. */
  listen(listener: Listener): () => void {
    this.#open();
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Closes the channel; later posts reach this store's listeners only. */
  close(): void {
    this.#closed = true;
    this.#channel?.close();
    this.#channel = undefined;
  }
}

/**
 * The messages that match `filter`, one `next()` at a time, queued from the
 * moment of the call: listening starts before the caller looks in the
 * database, so nothing said in between is missed.
 */
export class Inbox {
  readonly #queue: Message[] = [];
  #wake: (() => void) | undefined;
  #interrupted = false;
  readonly #stop: () => void;

  constructor(messages: Messages, filter: (message: Message) => boolean) {
    this.#stop = messages.listen((message) => {
      if (!filter(message)) return;
      this.#queue.push(message);
      this.#wake?.();
    });
  }

  /**
   * The next message, at once if one is queued; `undefined` once
   * interrupted with none queued.
   */
  async next(): Promise<Message | undefined> {
    while (!this.#queue.length && !this.#interrupted) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    this.#wake = undefined;
    return this.#queue.shift();
  }

  /** Makes `next()` return what is queued, then `undefined`, from now on. */
  interrupt(): void {
    this.#interrupted = true;
    this.#wake?.();
  }

  /** Stops listening. */
  close(): void {
    this.#stop();
    this.interrupt();
  }
}
