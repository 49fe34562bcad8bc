// One loop for every read that wants a whole range: the operating system may
// return fewer bytes than asked, and only 0 means the end of the file.

import type { FileHandle } from "./file_system.ts";

/**
 * Fills `buffer` from byte `position` of `file`, stopping early only at the
 * end of the file.
 *
 * @returns The number of bytes read: `buffer.byteLength` unless the file ended.
 */
export async function readFully(
  file: FileHandle,
  buffer: Uint8Array,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < buffer.byteLength) {
    const count = await file.read(buffer.subarray(done), position + done);
    if (count === 0) break;
    done += count;
  }
  return done;
}
