// Rendezvous (highest random weight) hashing: a key goes to the member whose
// weight for it is highest, the weight being a hash of the member's name and
// the key. Adding a member moves only the keys it now wins (about 1/(N+1) of
// them), and removing one moves only its own keys; no ring, no table.
//
// The hash is cyrb53 (a public-domain 53-bit string hash built of two
// 32-bit multiply-xor lanes with a final avalanche), seeded with the
// member's own hash. It runs over UTF-16 code units, so every runtime gives
// the same answer; it is neither cryptographic nor meant to be: names and
// keys come from the application, and a key's place only has to be stable.
// Changing it would move every key: tests/partitioned_store_test.ts pins it.

/** A 53-bit hash of `text` (UTF-16 code units), seeded. */
export function hash53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Members by name, each with the seed its weights are hashed with. */
export class Rendezvous {
  readonly #seeds: readonly number[];

  /** @param names The members' names, distinct. */
  constructor(names: readonly string[]) {
    this.#seeds = names.map((name) => hash53(name) % 4294967296);
  }

  /** The index (into the names given) of the member `key` goes to. */
  pick(key: string): number {
    let best = 0;
    let bestWeight = -1;
    this.#seeds.forEach((seed, index) => {
      const weight = hash53(key, seed);
      // Ties (rare: 53 bits) go to the first named, whatever the order.
      if (weight > bestWeight) {
        best = index;
        bestWeight = weight;
      }
    });
    return best;
  }
}
