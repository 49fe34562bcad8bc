// The record of a committed entry, stored after its bytes in the same file:
// [bytes][record as JSON][JSON length: u32 little-endian]["SCE1"]. One file
// per entry means one rename commits bytes and record together (SEMANTICS 14),
// and a file whose length disagrees with its record is never served (13).

import type { EntryMeta, StoreRecord } from "../store.ts";
import type { FileHandle } from "./file_system.ts";

const MAGIC = new TextEncoder().encode("SCE1");
const FOOTER = 8; // length + magic

/** What a committed entry's file records about it. */
export interface Trailer extends StoreRecord {
  /** SHA-256 of the entry's bytes, base64. */
  readonly checksum: string;
}

export function encodeTrailer(trailer: Trailer): Uint8Array {
  const { key, id, meta, size, created, checksum } = trailer;
  const json = new TextEncoder().encode(
    JSON.stringify({ v: 1, key, id, size, created, checksum, meta }),
  );
  const out = new Uint8Array(json.byteLength + FOOTER);
  out.set(json);
  new DataView(out.buffer).setUint32(json.byteLength, json.byteLength, true);
  out.set(MAGIC, json.byteLength + 4);
  return out;
}

/** Reads and checks a committed file's trailer; `undefined` if the file is not a whole entry. */
export async function readTrailer(
  file: FileHandle,
): Promise<Trailer | undefined> {
  const length = await file.size();
  if (length < FOOTER) return undefined;
  const footer = await readExactly(file, length - FOOTER, FOOTER);
  if (!footer || !MAGIC.every((byte, i) => footer[4 + i] === byte)) {
    return undefined;
  }
  const jsonLength = new DataView(footer.buffer).getUint32(0, true);
  if (jsonLength > length - FOOTER) return undefined;
  const json = await readExactly(
    file,
    length - FOOTER - jsonLength,
    jsonLength,
  );
  if (!json) return undefined;
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
    (meta === undefined || (typeof meta === "object" && meta !== null)) &&
    size + jsonLength + FOOTER === length;
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

async function readExactly(
  file: FileHandle,
  position: number,
  length: number,
): Promise<Uint8Array | undefined> {
  const out = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const count = await file.read(out.subarray(done), position + done);
    if (count === 0) return undefined;
    done += count;
  }
  return out;
}
