// The record of a committed entry, stored after its bytes in the same file:
//
//   [bytes][record as JSON][id][JSON length: u32 LE][id length: u32 LE]["SCE2"]
//
// One file per entry means one rename commits bytes and record together
// (SEMANTICS 14), and a file whose length disagrees with its record is never
// served (13). The id is repeated at a fixed place near the end so a reader
// can tell which entry a file holds from its last few bytes, without parsing
// a record whose key may be megabytes long. Files of the first format,
// [bytes][JSON][JSON length: u32 LE]["SCE1"], are still read.

import type { EntryMeta, StoreRecord } from "../store.ts";
import type { FileHandle } from "./file_system.ts";
import { readFully } from "./_read_fully.ts";

const MAGIC_V1 = new TextEncoder().encode("SCE1");
const MAGIC_V2 = new TextEncoder().encode("SCE2");
const FOOTER_V1 = 8; // JSON length + magic
const FOOTER_V2 = 12; // JSON length + id length + magic
/** Ids longer than this are not repeated in the footer's fast path. */
const TAIL = FOOTER_V2 + 64;

/** What a committed entry's file records about it. */
export interface Trailer extends StoreRecord {
  /** SHA-256 of the entry's bytes, base64. */
  readonly checksum: string;
}

export function encodeTrailer(trailer: Trailer): Uint8Array {
  const { key, id, meta, size, created, checksum } = trailer;
  const encoder = new TextEncoder();
  const json = encoder.encode(
    JSON.stringify({ v: 1, key, id, size, created, checksum, meta }),
  );
  const idBytes = encoder.encode(id);
  const out = new Uint8Array(json.byteLength + idBytes.byteLength + FOOTER_V2);
  out.set(json);
  out.set(idBytes, json.byteLength);
  const view = new DataView(out.buffer);
  const at = json.byteLength + idBytes.byteLength;
  view.setUint32(at, json.byteLength, true);
  view.setUint32(at + 4, idBytes.byteLength, true);
  out.set(MAGIC_V2, at + 8);
  return out;
}

/** Where a file's record lies, from its footer alone. */
interface Layout {
  /** The byte where the record's JSON starts: the entry's size. */
  readonly start: number;
  readonly jsonLength: number;
  /** The id repeated in the footer (format 2), if it was read. */
  readonly id: string | undefined;
}

/** Reads and checks a file's footer; `undefined` if it is not a committed entry's. */
async function readLayout(
  file: FileHandle,
  length: number,
): Promise<Layout | undefined> {
  if (length < FOOTER_V1) return undefined;
  const tailLength = Math.min(length, TAIL);
  const tail = new Uint8Array(tailLength);
  if (await readFully(file, tail, length - tailLength) < tailLength) {
    return undefined;
  }
  const view = new DataView(tail.buffer);
  const magic = tail.subarray(tailLength - 4);
  if (MAGIC_V1.every((byte, i) => magic[i] === byte)) {
    const jsonLength = view.getUint32(tailLength - FOOTER_V1, true);
    const start = length - FOOTER_V1 - jsonLength;
    return start < 0 ? undefined : { start, jsonLength, id: undefined };
  }
  if (length < FOOTER_V2 || !MAGIC_V2.every((byte, i) => magic[i] === byte)) {
    return undefined;
  }
  const jsonLength = view.getUint32(tailLength - FOOTER_V2, true);
  const idLength = view.getUint32(tailLength - FOOTER_V2 + 4, true);
  const start = length - FOOTER_V2 - idLength - jsonLength;
  if (start < 0) return undefined;
  const id = idLength <= tailLength - FOOTER_V2
    ? new TextDecoder().decode(
      tail.subarray(tailLength - FOOTER_V2 - idLength, tailLength - FOOTER_V2),
    )
    : undefined;
  return { start, jsonLength, id };
}

/**
 * Tells which entry a committed file holds, reading its last bytes only
 * (the whole record for files of the first format).
 *
 * @returns The id, or `undefined` if the file is not a whole entry.
 */
export async function readTrailerId(
  file: FileHandle,
): Promise<string | undefined> {
  const layout = await readLayout(file, await file.size());
  if (layout?.id !== undefined) return layout.id;
  return layout && (await readTrailer(file))?.id;
}

/** Reads and checks a committed file's trailer; `undefined` if the file is not a whole entry. */
export async function readTrailer(
  file: FileHandle,
): Promise<Trailer | undefined> {
  const length = await file.size();
  const layout = await readLayout(file, length);
  if (!layout) return undefined;
  const json = new Uint8Array(layout.jsonLength);
  if (await readFully(file, json, layout.start) < json.byteLength) {
    return undefined;
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(new TextDecoder().decode(json));
  } catch {
    return undefined;
  }
  const { v, key, id, size, created, checksum, meta } = parsed;
  const valid = v === 1 && typeof key === "string" && typeof id === "string" &&
    typeof size === "number" && typeof created === "number" &&
    typeof checksum === "string" &&
    (meta === undefined ||
      (typeof meta === "object" && meta !== null && !Array.isArray(meta))) &&
    size === layout.start && (layout.id === undefined || layout.id === id);
  if (!valid) return undefined;
  return {
    key,
    id,
    size,
    created,
    checksum,
    meta: meta as EntryMeta | undefined,
  };
}
