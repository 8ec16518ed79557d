/**
 * Remembers every key of the raw records streaming by, so the archive can say whether it holds
 * all of what OX sent. OX's records carry the same ~15 keys each; a newer OX may add some.
 * Costs one `in` walk per record, next to the JSON parse that made it.
 */
export class KeysSeen {
  private readonly keys = new Set<string>();

  async *tap(records: AsyncIterable<Record<string, unknown>>): AsyncGenerator<Record<string, unknown>> {
    for await (const record of records) {
      for (const key in record) if (!this.keys.has(key)) this.keys.add(key);
      yield record;
    }
  }

  /** In the order first seen. */
  list(): string[] {
    return [...this.keys];
  }
}
