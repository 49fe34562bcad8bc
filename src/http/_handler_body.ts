// Taking the body of a handler's response to store: it must be readable
// (not read nor locked), it must match its declared Content-Length, and the
// wrapper must be able to stop it (for `abortWhenUnread`).

/** A handler's body taken for storing, and how to stop it. */
export interface TakenBody {
  readonly body: ReadableStream<Uint8Array>;
  readonly stop: (reason: unknown) => void;
}

/**
 * Takes a response's body. Throws a TypeError at once if it was already read
 * or is locked: such a body can never be stored (nor sent), and waiting for
 * it would hang every request for the key. Its stream fails if it ends short
 * of (or runs past) the length declared.
 */
export function takeBody(
  response: Response,
  declared: number | undefined,
): TakenBody {
  if (response.bodyUsed || response.body?.locked) {
    throw new TypeError(
      "Cannot cache response: its body is already read or locked; the handler must return a Response whose body nobody has read",
    );
  }
  let count = 0;
  let controller!: TransformStreamDefaultController<Uint8Array>;
  const check = new TransformStream<Uint8Array, Uint8Array>({
    start(c) {
      controller = c;
    },
    transform(chunk, c) {
      count += chunk.byteLength;
      if (declared !== undefined && count > declared) {
        throw new RangeError(
          `The handler's body ran past its Content-Length of ${declared} bytes`,
        );
      }
      c.enqueue(chunk);
    },
    flush() {
      if (declared !== undefined && count !== declared) {
        throw new RangeError(
          `The handler's body ended at ${count} bytes, short of its Content-Length of ${declared}`,
        );
      }
    },
  });
  const source = response.body ??
    new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  // A failing source aborts the writable side, which errors the readable
  // side; anything else that makes the pipe fail must reach readers too.
  source.pipeTo(check.writable).catch((error) => controller.error(error));
  return { body: check.readable, stop: (reason) => controller.error(reason) };
}
