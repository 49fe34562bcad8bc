/**
 * Serves a fetch handler on whichever runtime this is: `Deno.serve` on
 * Deno, `Bun.serve` on Bun, and on Node `serve()` from `@hono/node-server`
 * (imported only there). The one runtime-specific file of the server.
 *
 * @module
 */

/** A fetch-style handler. */
export type FetchHandler = (request: Request) => Promise<Response>;

/** Where to listen. */
export interface ServeOptions {
  /** The address, e.g. `127.0.0.1`. */
  hostname: string;
  /** The port; 0 picks a free one. */
  port: number;
}

/** A listening server. */
export interface Server {
  /** The URL it listens on, e.g. `http://127.0.0.1:8000/`. */
  readonly url: string;
  /** Stops accepting connections; resolves once every open one has ended. */
  stop(): Promise<void>;
  /** Ends every connection still open, idle or not, at once. */
  closeConnections(): void;
}

// The slices of the runtimes' APIs used here, typed so that this file also
// compiles where their types are absent (tsc for Node).
interface DenoServer {
  shutdown(): Promise<void>;
}
interface DenoApi {
  serve(
    options: {
      hostname: string;
      port: number;
      onListen(address: { port: number }): void;
    },
    handler: FetchHandler,
  ): DenoServer;
}
interface BunServer {
  readonly port: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
}
interface BunApi {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout: number;
    fetch: FetchHandler;
  }): BunServer;
}

/**
 * Starts serving `handler`.
 *
 * @param handler Answers each request.
 * @param options Where to listen.
 * @returns The server, once it listens.
 */
export async function serve(
  handler: FetchHandler,
  options: ServeOptions,
): Promise<Server> {
  const { hostname, port } = options;
  const url = (port: number) => `http://${hostname}:${port}/`;
  const { Deno, Bun } = globalThis as { Deno?: DenoApi; Bun?: BunApi };

  if (Deno) {
    let listening!: (port: number) => void;
    const bound = new Promise<number>((resolve) => listening = resolve);
    const server = Deno.serve({
      hostname,
      port,
      onListen: (address) => listening(address.port), // and print nothing
    }, handler);
    const shutdown = server.shutdown.bind(server);
    let stopping: Promise<void> | undefined;
    return {
      url: url(await bound),
      stop: () => stopping ??= shutdown(),
      // Deno's shutdown() ends idle connections itself; busy ones end with
      // their responses.
      closeConnections: () => {},
    };
  }

  if (Bun) {
    // idleTimeout 0: a Range request may wait long for bytes still being
    // generated, without a byte sent meanwhile.
    const server = Bun.serve({
      hostname,
      port,
      idleTimeout: 0,
      fetch: handler,
    });
    return {
      url: url(server.port),
      stop: () => server.stop(false),
      closeConnections: () => void server.stop(true),
    };
  }

  const { serve: nodeServe } = await import("@hono/node-server");
  return await new Promise<Server>((resolve, reject) => {
    const server = nodeServe(
      { fetch: handler, hostname, port, overrideGlobalObjects: false },
      (address) => {
        server.off("error", reject);
        let stopping: Promise<void> | undefined;
        resolve({
          url: url(address.port),
          stop: () =>
            stopping ??= new Promise<void>((done) => {
              server.close(() => done());
              if ("closeIdleConnections" in server) {
                server.closeIdleConnections();
              }
            }),
          closeConnections: () => {
            if ("closeAllConnections" in server) server.closeAllConnections();
          },
        });
      },
    );
    server.once("error", reject);
  });
}
