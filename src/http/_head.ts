// The body of a HEAD response whose length is not known (an entry still
// generated that declared no Content-Length, or a response passed through).
// RFC 9110 9.3.2 lets such a response leave Content-Length out; it must not
// claim 0 (8.6).
//
// `Deno.serve` and `Bun.serve` add `Content-Length: 0` to a response whose
// body is null, so there a HEAD response gets a body that never yields a
// byte, which they cancel at once without sending it (Bun then says
// `Transfer-Encoding: chunked`, as its GET does). Node adapters
// (`@hono/node-server`) and service workers send a null body as it is, but
// would hold a keep-alive connection until such a stream ends, so they get
// null. The stream ends when `ended` settles, so no server can wait on it
// forever.

const NULL_BODY_GETS_LENGTH_ZERO = "Deno" in globalThis || "Bun" in globalThis;

/** The body for a HEAD response of unknown length. */
export function headBody(
  ended: Promise<unknown>,
): ReadableStream<Uint8Array> | null {
  if (!NULL_BODY_GETS_LENGTH_ZERO) return null;
  let open = true;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const end = () => {
        if (open) controller.close();
        open = false;
      };
      ended.then(end, end);
    },
    cancel() {
      open = false;
    },
  });
}
