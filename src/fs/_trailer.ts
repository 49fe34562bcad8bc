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
//
// The JSON is {v: 1, key, id, size, created, checksum, meta, lifetime}; the
// lifetime came later and is optional, so files without one are read as
// before, and versions that predate it read (and serve) files that have one.
// The access time is not in the record, which never changes once committed:
// it is the file's modification time, which the store sets itself
// (SEMANTICS 16; see fs_store.ts).

import type { EntryLifetime, EntryMeta } from "../store.ts";
import type { FileHandle, FileInfo } from "./file_system.ts";
import { parseLifetime } from "../_record_lifetime.ts";
import { readFully } from "./_read_fully.ts";

const MAGIC_V1 = new TextEncoder().encode("SCE1");
const MAGIC_V2 = new TextEncoder().encode("SCE2");
const FOOTER_V1 = 8; // JSON length + magic
const FOOTER_V2 = 12; // JSON length + id length + magic
/** Ids longer than this are not repeated in the footer's fast path. */
const TAIL = FOOTER_V2 + 64;
/**
 * How many last bytes a record read takes at once: the footer and, for keys
 * and metadata of common sizes, the whole record, in one read.
 */
const RECORD_READ = 4096;

/** What a committed entry's file records about it. */
export interface Trailer {
  readonly key: string;
  readonly id: string;
  readonly meta: EntryMeta | undefined;
  readonly size: number;
  readonly created: number;
  readonly lifetime?: EntryLifetime;
  /** SHA-256 of the entry's bytes, base64. */
  readonly checksum: string;
}

export function encodeTrailer(trailer: Trailer): Uint8Array {
  const { key, id, meta, size, created, checksum, lifetime } = trailer;
  const encoder = new TextEncoder();
  const json = encoder.encode(
    JSON.stringify({ v: 1, key, id, size, created, checksum, meta, lifetime }),
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

/**
 * Reads a file's footer from `tail`, the file's last bytes; `undefined` if it
 * is not a committed entry's.
 */
function parseFooter(tail: Uint8Array, length: number): Layout | undefined {
  const tailLength = tail.byteLength;
  if (tailLength < FOOTER_V1) return undefined;
  const view = new DataView(tail.buffer, tail.byteOffset, tailLength);
  const magic = tail.subarray(tailLength - 4);
  if (MAGIC_V1.every((byte, i) => magic[i] === byte)) {
    const jsonLength = view.getUint32(tailLength - FOOTER_V1, true);
    const start = length - FOOTER_V1 - jsonLength;
    return start < 0 ? undefined : { start, jsonLength, id: undefined };
  }
  if (
    tailLength < FOOTER_V2 || !MAGIC_V2.every((byte, i) => magic[i] === byte)
  ) {
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

/** Reads the last `count` bytes of a file of `length` bytes; `undefined` if it is shorter now. */
async function readTail(
  file: FileHandle,
  length: number,
  count: number,
): Promise<Uint8Array | undefined> {
  const tail = new Uint8Array(Math.min(length, count));
  const done = await readFully(file, tail, length - tail.byteLength);
  return done < tail.byteLength ? undefined : tail;
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
  const length = await file.size();
  const tail = await readTail(file, length, TAIL);
  const layout = tail && parseFooter(tail, length);
  if (layout?.id !== undefined) return layout.id;
  return layout && (await readTrailer(file))?.id;
}

/**
 * Reads and checks a committed file's trailer, reading the record's bytes
 * only: one read of the file's last 4 KiB, and a second only for a record
 * longer than that. `undefined` if the file is not a whole entry.
 *
 * @param info The file's description, if the caller has it already.
 */
export async function readTrailer(
  file: FileHandle,
  info?: FileInfo,
): Promise<Trailer | undefined> {
  const { size: length, isFile } = info ?? await file.stat();
  if (!isFile) return undefined;
  const tail = await readTail(file, length, RECORD_READ);
  const layout = tail && parseFooter(tail, length);
  if (!tail || !layout) return undefined;
  let json: Uint8Array | undefined;
  const within = layout.start - (length - tail.byteLength);
  if (within >= 0) {
    json = tail.subarray(within, within + layout.jsonLength);
  } else {
    json = new Uint8Array(layout.jsonLength);
    if (await readFully(file, json, layout.start) < json.byteLength) {
      return undefined;
    }
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(new TextDecoder().decode(json));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { v, key, id, size, created, checksum, meta, lifetime } = parsed;
  const valid = v === 1 && typeof key === "string" && typeof id === "string" &&
    typeof size === "number" && typeof created === "number" &&
    typeof checksum === "string" &&
    (meta === undefined ||
      (typeof meta === "object" && meta !== null && !Array.isArray(meta))) &&
    size === layout.start && (layout.id === undefined || layout.id === id);
  if (!valid) return undefined;
  const kept = parseLifetime(lifetime);
  return {
    key,
    id,
    size,
    created,
    checksum,
    meta: meta as EntryMeta | undefined,
    ...(kept ? { lifetime: kept } : {}),
  };
}
