// A snapshot of the committed entries' records, kept in <dir>/index.json, so
// that listing 100,000 entries after a restart does not open 100,000 files
// (each open, fstat, read and close is a round trip to the runtime's I/O
// threads: about 100 µs of CPU per file on Node and Deno).
//
// The index is a hint, never the truth: the entry files are. Each line names
// a file, its length and inode number when it was read, and its record. A
// listing trusts a line only for a file that is still there with the same
// length and inode (a file another store committed at that name since is a
// new inode; one that was truncated or appended to has another length); any
// other file is read as before. Keys need no check at all: a file's name is
// its key's hash, so the key of a name never changes.
//
// The store writes the index when its start-up scan has seen every file,
// again while it runs each time 1,000 of its lines (or a tenth, if more)
// changed, so a crash costs the next start at most that many file reads, and
// on close if it changed; it writes it under its own tmp/ directory,
// fsyncs it and renames it into place, so a reader sees a whole index or the
// one before. Stores sharing a directory each write their own view; the last
// rename wins, and the checks above make any view safe to use.
//
// Format, JSON lines: a header {"v":1,"of":"streamcache FsStore records"},
// then [name, key, length, ino|null, id, size, created, meta|null,
// lifetime|null] per entry. Lines read from the file are kept as they are
// (slices of one string, about the file's size in memory) and parsed when
// used; a listing parses each once.

import type { EntryLifetime, EntryMeta } from "../store.ts";
import type { FileHandle, FileInfo, FileSystem } from "./file_system.ts";
import type { Layout } from "./_layout.ts";
import { parseLifetime } from "../_record_lifetime.ts";
import { readFully } from "./_read_fully.ts";

const HEADER = JSON.stringify({ v: 1, of: "streamcache FsStore records" });
/** Lines written at once. */
const BATCH = 2000;
/** Bytes of the index read at once. */
const LOAD_PIECE = 1 << 20;

/** What the index knows of one committed file. */
export interface Indexed {
  /** The file's length when it was read: the entry's bytes and its record. */
  readonly length: number;
  readonly ino: number | undefined;
  readonly key: string;
  readonly id: string;
  readonly size: number;
  readonly created: number;
  readonly meta: EntryMeta | undefined;
  readonly lifetime?: EntryLifetime;
}

/** The record fields the index keeps, as a trailer has them. */
export type IndexedRecord = Omit<Indexed, "length" | "ino">;

/** One store's copy of the index. */
export class RecordIndex {
  readonly #fs: FileSystem;
  readonly #path: string;
  /** Per file name: its line as read (parsed on use), or what this store noted. */
  readonly #entries = new Map<string, string | Indexed>();
  /** Names set or deleted since loading began: the file's lines lose to them. */
  readonly #changed = new Set<string>();
  #loading: Promise<void> | undefined;
  /** Whether the entries hold every file on disk as of a full pass. */
  #complete = false;
  /** Changes since the index was last written. */
  #unsaved = 0;

  constructor(fs: FileSystem, layout: Layout) {
    this.#fs = fs;
    this.#path = `${layout.dir}/index.json`;
  }

  /** Reads the index file, once; a missing or unreadable one is an empty index. */
  load(): Promise<void> {
    this.#loading ??= this.#load().catch(() => {});
    return this.#loading;
  }

  /** How many files the index holds. */
  get size(): number {
    return this.#entries.size;
  }

  /** How many changes the index file lacks. */
  get unsaved(): number {
    return this.#unsaved;
  }

  /** Whether the index holds file `name`. */
  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The line for `name`, if `info` (of the file there now) agrees with it. */
  match(name: string, info: FileInfo): Indexed | undefined {
    const entry = this.#get(name);
    return entry && info.isFile && entry.length === info.size &&
        entry.ino === info.ino
      ? entry
      : undefined;
  }

  /** The key of file `name`, if the index has one (see the module's comment). */
  key(name: string): string | undefined {
    const entry = this.#entries.get(name);
    return typeof entry === "string" ? keyOfLine(entry) : entry?.key;
  }

  #get(name: string): Indexed | undefined {
    const entry = this.#entries.get(name);
    return typeof entry === "string" ? parseLine(entry)?.[1] : entry;
  }

  /** Notes what was read from (or committed to) file `name`. */
  set(name: string, record: IndexedRecord, info: FileInfo): void {
    const { key, id, size, created, meta, lifetime } = record;
    const before = this.#get(name);
    if (
      before?.id === id && before.length === info.size &&
      before.ino === info.ino
    ) {
      return;
    }
    this.#entries.set(name, {
      length: info.size,
      ino: info.ino,
      key,
      id,
      size,
      created,
      meta,
      ...(lifetime ? { lifetime } : {}),
    });
    this.#changed.add(name);
    this.#unsaved++;
  }

  /** Forgets file `name`: removed. */
  delete(name: string): void {
    this.#changed.add(name);
    if (this.#entries.delete(name)) this.#unsaved++;
  }

  /**
   * After a full listing of `entries/` (loaded first): forgets the names
   * that are not on disk, unless this store changed them since, and marks
   * the index complete, so that it may be written.
   */
  reconcile(onDisk: readonly string[]): void {
    let found = 0;
    for (const name of onDisk) if (this.#entries.has(name)) found++;
    if (found < this.#entries.size) { // some are gone: rarely
      const present = new Set(onDisk);
      for (const name of this.#entries.keys()) {
        if (!present.has(name) && !this.#changed.has(name)) {
          this.#entries.delete(name);
          this.#unsaved++;
        }
      }
    }
    this.#changed.clear();
    this.#complete = true;
  }

  /**
   * Writes the index if it is complete and changed, via `scratch` (a path
   * under the store's own tmp/ directory). Failures are ignored: the index
   * is only a hint. Never call it while a save runs (they share `scratch`).
   */
  async save(scratch: string): Promise<void> {
    if (!this.#complete || this.#unsaved === 0) return;
    const saving = this.#unsaved;
    let file: FileHandle | undefined;
    try {
      await this.#fs.remove(scratch).catch(() => {});
      file = await this.#fs.open(scratch, "create");
      const encoder = new TextEncoder();
      let lines = [HEADER];
      for (const [name, entry] of this.#entries) {
        lines.push(typeof entry === "string" ? entry : encodeLine(name, entry));
        if (lines.length >= BATCH) {
          await file.write(encoder.encode(lines.join("\n") + "\n"));
          lines = [];
        }
      }
      await file.write(encoder.encode(lines.join("\n") + "\n"));
      await file.sync();
      await file.close();
      file = undefined;
      await this.#fs.rename(scratch, this.#path);
      this.#unsaved -= saving; // what changed meanwhile is for the next save
    } catch {
      // Tried again by the next save.
      await file?.close().catch(() => {});
      await this.#fs.remove(scratch).catch(() => {});
    }
  }

  async #load(): Promise<void> {
    let file: FileHandle;
    try {
      file = await this.#fs.open(this.#path, "read");
    } catch {
      return; // none yet
    }
    try {
      // A piece at a time: each read gives the event loop back, so loading
      // an index of 100,000 entries (20 MB) never holds up a request.
      const decoder = new TextDecoder();
      const buffer = new Uint8Array(LOAD_PIECE);
      let partial = "";
      let header = true;
      for (let at = 0;;) {
        const count = await readFully(file, buffer, at);
        at += count;
        const text = partial +
          decoder.decode(buffer.subarray(0, count), { stream: count > 0 });
        const lines = text.split("\n");
        partial = count > 0 ? lines.pop()! : "";
        if (header && lines.length > 0) {
          if (lines[0] !== HEADER) return;
          header = false;
        }
        for (const line of lines) this.#add(line);
        if (count === 0) return;
      }
    } finally {
      await file.close();
    }
  }

  #add(line: string): void {
    // Each line starts with its file's name: ["<64 hex digits>",". Names are
    // only ever looked up with names of files listed in entries/, never made
    // into paths, so they need no further check here.
    const name = line.slice(2, 66);
    if (
      line.startsWith('["') && line.startsWith('","', 66) &&
      !this.#changed.has(name)
    ) {
      this.#entries.set(name, line);
    }
  }
}

function encodeLine(name: string, entry: Indexed): string {
  const { length, ino, key, id, size, created, meta, lifetime } = entry;
  return JSON.stringify([
    name,
    key,
    length,
    ino ?? null,
    id,
    size,
    created,
    meta ?? null,
    lifetime ?? null,
  ]);
}

/**
 * The key of a line, without parsing the rest: it is the JSON string that
 * starts after the name, at character 68 (["<64 hex digits>","...).
 */
function keyOfLine(line: string): string | undefined {
  let end = 69;
  for (;;) {
    end = line.indexOf('"', end);
    if (end < 0) return undefined;
    let escapes = 0;
    while (line.charCodeAt(end - 1 - escapes) === 0x5c) escapes++; // backslash
    if (escapes % 2 === 0) break;
    end++;
  }
  try {
    const key: unknown = JSON.parse(line.slice(68, end + 1));
    return typeof key === "string" ? key : undefined;
  } catch {
    return undefined;
  }
}

function parseLine(line: string): [string, Indexed] | undefined {
  let fields: unknown;
  try {
    fields = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!Array.isArray(fields)) return undefined;
  const [name, key, length, ino, id, size, created, meta, lifetime] = fields;
  // The name was checked when the line was loaded or made.
  const valid = typeof name === "string" &&
    typeof length === "number" &&
    (ino === null || typeof ino === "number") && typeof key === "string" &&
    typeof id === "string" && typeof size === "number" &&
    typeof created === "number" &&
    (meta === null ||
      (typeof meta === "object" && !Array.isArray(meta)));
  if (!valid) return undefined;
  const kept = lifetime === null ? undefined : parseLifetime(lifetime);
  return [name, {
    length,
    ino: ino ?? undefined,
    key,
    id,
    size,
    created,
    meta: (meta ?? undefined) as EntryMeta | undefined,
    ...(kept ? { lifetime: kept } : {}),
  }];
}
