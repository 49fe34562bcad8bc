// CRC-32 (IEEE 802.3, as zlib and PNG compute it), updated chunk by chunk:
// the checksum RedisStore keeps with every committed entry.

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** A running CRC-32. */
export class Crc32 {
  #crc = 0xffffffff;

  /** Adds `bytes` to the checksum. */
  update(bytes: Uint8Array): void {
    let crc = this.#crc;
    for (let i = 0; i < bytes.length; i++) {
      crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
    }
    this.#crc = crc;
  }

  /** The checksum so far, as 8 hex digits. */
  hex(): string {
    return ((this.#crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, "0");
  }
}
