/** Small deterministic random sources: the same seed always yields the same data. */

/** 32-bit avalanche mix (lowbias32): a stateless hash of an integer. */
export function mix32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Hash of (seed, index) for index-addressed generation; index may exceed 2^32. */
export function indexHash(seedMix: number, index: number): number {
  const low = index >>> 0;
  const high = Math.floor(index / 4294967296);
  return mix32(seedMix ^ mix32(low + 0x9e3779b9) ^ mix32(high * 0x85ebca6b + 1));
}

/** mulberry32: a sequential PRNG returning floats in [0, 1). */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}
