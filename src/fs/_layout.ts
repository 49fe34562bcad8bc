// Where FsStore keeps what, under its directory:
//
//   entries/<sha256 of the key>   committed entries, one file each
//   tmp/<owner>/<id>              entries being written by one store (owner)
//   tmp/<owner>/<id>.removed      deleted entries that readers still read
//
// and, for stores in `shared` mode (src/fs/_claims.ts):
//
//   claims/<sha256 of the key>/<n>  the key's claims, generation n; the
//                                   highest one is the current claim
//   tmp/<owner>/<id>.commit       a claimed entry being committed
//   tmp/<owner>/<id>.failed       why a claimed entry failed, for followers
//
// File names come from a hash of the key, so any string is a valid key and
// nothing is created outside the directory (SEMANTICS 15).

import { checkKey } from "../_validate.ts";
import type { Hasher } from "./file_system.ts";

/** A committed entry's file name: 64 lowercase hex digits. */
export const ENTRY_NAME: RegExp = /^[0-9a-f]{64}$/;

/** The paths of one store's directory. */
export class Layout {
  readonly dir: string;
  readonly entries: string;
  readonly tmp: string;
  readonly claims: string;

  constructor(dir: string) {
    this.dir = dir.replace(/\/+$/, "") || "/";
    this.entries = `${this.dir}/entries`;
    this.tmp = `${this.dir}/tmp`;
    this.claims = `${this.dir}/claims`;
  }

  /** The committed file of `key`. */
  async entry(key: string): Promise<string> {
    return this.entryPath(await hashKey(key));
  }

  /** The committed file named `name` (a key's hash). */
  entryPath(name: string): string {
    return `${this.entries}/${name}`;
  }
}

/**
 * Tells whether `name` is the file name of `key`, hashing synchronously with
 * `hasher` (a listing checks every file it reads, and the runtime's hash is
 * much faster than an await of `crypto.subtle` per key).
 */
export function isNameOf(name: string, key: string, hasher: Hasher): boolean {
  hasher.update(new TextEncoder().encode(JSON.stringify(key)));
  return hasher.digest() === hexToBase64(name);
}

function hexToBase64(hex: string): string {
  let binary = "";
  for (let at = 0; at < hex.length; at += 2) {
    binary += String.fromCharCode(parseInt(hex.slice(at, at + 2), 16));
  }
  return btoa(binary);
}

/** The file name of a key: SHA-256 hex, so any string maps inside the directory. */
export async function hashKey(key: string): Promise<string> {
  checkKey(key, "hash key");
  // JSON keeps every string distinct: TextEncoder alone would turn each lone
  // surrogate into U+FFFD, and "\ud800" and "\ufffd" would collide.
  return await sha256Hex(JSON.stringify(key));
}

/** SHA-256 of a string's UTF-8 bytes, as lowercase hex. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}
