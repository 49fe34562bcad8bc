// The slice of the Deno namespace the Deno adapter uses, typed here so the
// adapter also compiles where Deno's types are absent (tsc for npm). At run
// time it is the real `Deno` global; the adapter is only called on Deno.

export interface DenoFile {
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  seek(offset: number, whence: 0): Promise<number>;
  readSync(buffer: Uint8Array): number | null;
  seekSync(offset: number, whence: 0): number;
  sync(): Promise<void>;
  stat(): Promise<DenoFileInfo>;
  close(): void;
}

export interface DenoFileInfo {
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly size: number;
  readonly mtime: Date | null;
  readonly ino: number | null;
}

export interface DenoWatcher extends AsyncIterable<unknown> {
  close(): void;
}

export interface DenoApi {
  readonly pid: number;
  lstat(path: string): Promise<DenoFileInfo>;
  utime(path: string, atime: Date, mtime: Date): Promise<void>;
  readTextFile(path: string): Promise<string>;
  readLink(path: string): Promise<string>;
  readonly permissions: {
    querySync(descriptor: { name: "read" | "run"; path?: string }): {
      readonly state: "granted" | "denied" | "prompt";
    };
  };
  mkdir(path: string, options: { recursive: boolean }): Promise<void>;
  open(
    path: string,
    options: { read?: boolean; write?: boolean; createNew?: boolean },
  ): Promise<DenoFile>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string, options: { recursive: boolean }): Promise<void>;
  readDir(path: string): AsyncIterable<{ name: string }>;
  link(existing: string, path: string): Promise<void>;
  watchFs(path: string, options: { recursive: boolean }): DenoWatcher;
  readonly errors: {
    readonly NotFound: new (message?: string) => Error;
    readonly AlreadyExists: new (message?: string) => Error;
  };
}

/** The Deno global, or a clear error where there is none. */
export function deno(): DenoApi {
  const api = (globalThis as { Deno?: DenoApi }).Deno;
  if (!api) {
    throw new TypeError(
      "Cannot use denoFileSystem: this runtime is not Deno (use nodeFileSystem)",
    );
  }
  return api;
}

/** `Deno.SeekMode.Start`. */
export const SEEK_START = 0;
