// One request's producer for one cache key: it calls the handler (SEMANTICS
// rule 20: a GET of its own), decides whether the response may be stored,
// and gives the core the response's metadata and lifetime (RFC 9111 4.2).
// Given a stale entry to refresh, it revalidates it (4.3): a conditional
// request from the stored validators, and on a 304 the stored body with the
// headers the 304 updates, without a new body from the handler.

import type { ProducedEntry, Producer, ProducerContext } from "../producer.ts";
import type { StreamCache } from "../stream_cache.ts";
import { describeValue } from "../_validate.ts";
import { sharedWithCredentials } from "./_credentials.ts";
import { entryLifetime } from "./_freshness.ts";
import { takeBody } from "./_handler_body.ts";
import { handlerRequest } from "./_handler_request.ts";
import type { HttpMeta } from "./_meta.ts";
import { toMeta } from "./_meta.ts";
import { mustNotStore } from "./_policy.ts";
import {
  conditionalHeaders,
  freshened,
  selectsStored,
} from "./_revalidation.ts";
import { acceptEncodingVariant, varyKind } from "./_vary.ts";

/** What every production of one `cached()` wrapper shares. */
export interface ProductionOptions {
  readonly cache: StreamCache;
  readonly handler: (request: Request) => Response | Promise<Response>;
  readonly shouldCache: (response: Response, request: Request) => boolean;
  readonly shared: boolean;
  readonly defaultTtl: number | undefined;
  /** The targeted fields (RFC 9213) the cache obeys. */
  readonly targets: readonly string[];
}

/** Thrown out of the producer to hand an uncacheable response to its requester. */
export class Uncacheable extends Error {
  override readonly name = "Uncacheable";
  readonly response: Response;
  constructor(response: Response) {
    super("The handler's response may not be stored");
    this.response = response;
  }
}

/** One request's producer for one key, and what it learnt when it ran. */
export class Production {
  /** Stops the handler's body (for `abortWhenUnread`), once it ran. */
  stop: ((reason: unknown) => void) | undefined;
  /** Headers only the requester may see (`no-cache="…"`, `private="…"`). */
  unshared: readonly (readonly [string, string])[] = [];
  /** Set when it revalidated a stored response with a 304. */
  revalidated = false;
  /** The refusal it threw, whose response goes to its own requester. */
  refused: Uncacheable | undefined;
  readonly #options: ProductionOptions;
  readonly #request: Request;
  readonly #key: string;
  readonly #credentialed: boolean;
  #detached = false;

  constructor(
    options: ProductionOptions,
    request: Request,
    key: string,
    credentialed: boolean,
  ) {
    this.#options = options;
    this.#request = request;
    this.#key = key;
    this.#credentialed = credentialed;
  }

  /**
   * Its request was served a stale entry: a refresh it runs goes on in the
   * background, and a response it refuses is nobody's (its body is dropped).
   */
  detach(): void {
    this.#detached = true;
    this.refused?.response.body?.cancel().catch(() => {});
  }

  /** The producer to give `getOrCreate`. */
  readonly produce: Producer = async ({ signal, stale }: ProducerContext) => {
    const { cache, shouldCache, shared, targets } = this.#options;
    const request = this.#request;
    const variant = acceptEncodingVariant(
      request.headers.get("accept-encoding"),
    );
    const previous = stale?.meta as HttpMeta | undefined;
    // A stored variant for another Accept-Encoding is not this request's to
    // revalidate (RFC 9111 4.1).
    const conditions = Array.isArray(previous?.headers) &&
        (previous.variant === undefined || previous.variant === variant)
      ? conditionalHeaders(previous)
      : [];
    let upstream = await this.#call(signal, conditions);
    if (upstream.status === 304 && conditions.length > 0) {
      upstream.body?.cancel().catch(() => {});
      const revalidated = this.#freshen(stale!, previous!, upstream);
      if (revalidated) return revalidated;
      upstream = await this.#call(signal, []); // 4.3.4: not the stored one
    }
    const refusedByResponse = mustNotStore(upstream, shared, targets) ||
      !shouldCache(upstream, request);
    if (
      refusedByResponse ||
      (this.#credentialed &&
        !sharedWithCredentials(upstream.headers.get("cache-control")))
    ) {
      const refusal = new Uncacheable(upstream);
      this.refused = refusal;
      // A refresh answered by a response that may not be stored (and not a
      // server error, which stale-if-error is for): the stale entry is
      // superseded.
      if (stale && refusedByResponse && upstream.status < 500) {
        await cache.delete(this.#key);
      }
      if (this.#detached) upstream.body?.cancel().catch(() => {});
      throw refusal;
    }
    const now = cache.now();
    const varies = varyKind(upstream.headers) === "accept-encoding";
    const stored = toMeta(upstream, now, varies ? variant : undefined);
    const taken = takeBody(upstream, stored.meta.length);
    this.stop = taken.stop;
    this.unshared = stored.unshared;
    return {
      body: taken.body,
      meta: stored.meta,
      ...entryLifetime(upstream.headers, { ...this.#options, now }),
    };
  };

  /** Calls the handler for the whole representation, with `conditions`. */
  async #call(
    signal: AbortSignal,
    conditions: readonly (readonly [string, string])[],
  ): Promise<Response> {
    const upstream = await this.#options.handler(
      handlerRequest(this.#request, signal, conditions),
    );
    if (!(upstream instanceof Response)) {
      throw new TypeError(
        `The handler must return a Response: received ${
          describeValue(upstream)
        }`,
      );
    }
    return upstream;
  }

  /**
   * The stale entry freshened by a 304 (RFC 9111 4.3.4): its bytes, with the
   * headers the 304 updates, or `undefined` if the 304 does not select it or
   * makes it a response that may not be stored.
   */
  #freshen(
    stale: NonNullable<ProducerContext["stale"]>,
    previous: HttpMeta,
    notModified: Response,
  ): ProducedEntry | undefined {
    const { cache, shouldCache, shared, targets } = this.#options;
    if (!selectsStored(previous, notModified)) return undefined;
    const now = cache.now();
    const stored = freshened(previous, notModified, now);
    const headers = new Headers(stored.meta.headers as [string, string][]);
    const updated = new Response(null, { status: previous.status, headers });
    if (
      mustNotStore(updated, shared, targets) ||
      !shouldCache(updated, this.#request)
    ) {
      return undefined;
    }
    const age = notModified.headers.get("age");
    if (age !== null) headers.set("age", age);
    this.revalidated = true;
    this.unshared = stored.unshared;
    return {
      body: stale.readable(),
      meta: { ...stored.meta, length: stale.size },
      ...entryLifetime(headers, { ...this.#options, now }),
    };
  }
}
