// The start-up scan: committed entries whose file disagrees with its record
// (SEMANTICS 13) are removed, so they are never served and their space comes
// back. Files not named like an entry are not the store's, and stay.

import type { FileSystem } from "./file_system.ts";
import { ENTRY_NAME, hashKey, type Layout } from "./_layout.ts";
import { readFully } from "./_read_fully.ts";
import { readTrailer } from "./_trailer.ts";

/** How the scan checks a committed entry: its length, or every byte too. */
export type Verify = "size" | "checksum";

/** Removes every committed entry that is not whole. */
export async function scanEntries(
  fs: FileSystem,
  layout: Layout,
  verify: Verify,
): Promise<void> {
  for (const name of await fs.readDir(layout.entries)) {
    if (!ENTRY_NAME.test(name)) continue; // not ours
    const path = `${layout.entries}/${name}`;
    try {
      if (!(await isWhole(fs, path, name, verify))) await fs.remove(path);
    } catch {
      // One unreadable file (or a FIFO, a directory) must not stop the
      // reload; it is never served either, since lookup checks every file.
    }
  }
}

async function isWhole(
  fs: FileSystem,
  path: string,
  name: string,
  verify: Verify,
): Promise<boolean> {
  // Rejects anything but a regular file without blocking (a FIFO, say).
  const file = await fs.open(path, "read");
  try {
    const trailer = await readTrailer(file);
    if (!trailer || (await hashKey(trailer.key)) !== name) return false;
    if (verify === "size") return true;
    const hasher = fs.createHash();
    const buffer = new Uint8Array(64 * 1024);
    for (let at = 0; at < trailer.size;) {
      const part = buffer.subarray(
        0,
        Math.min(buffer.byteLength, trailer.size - at),
      );
      const count = await readFully(file, part, at);
      if (count < part.byteLength) return false;
      hasher.update(part);
      at += count;
    }
    return hasher.digest() === trailer.checksum;
  } finally {
    await file.close();
  }
}
