import { describe, expect, it } from 'vitest';
import { UpdateBatcher } from '../../src/ledger/update-batcher.js';

/** A sender that answers every item with its double and records the calls it got. */
function doubling() {
  const calls: number[][] = [];
  const batcher = new UpdateBatcher<number, number>(async (items) => {
    calls.push(items);
    return items.map((i) => i * 2);
  }, 4);
  return { calls, batcher };
}

describe('UpdateBatcher', () => {
  it('sends what is added in one turn as one call, in order, and answers each caller', async () => {
    const { calls, batcher } = doubling();
    const replies = await Promise.all([batcher.add(1), batcher.add(2), batcher.add(3)]);
    expect(replies).toEqual([2, 4, 6]);
    expect(calls).toEqual([[1, 2, 3]]);
  });

  it('starts a new call at the size bound and for what is added after a send', async () => {
    const { calls, batcher } = doubling();
    const first = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => batcher.add(i)));
    expect(first).toEqual([2, 4, 6, 8, 10, 12]);
    expect(calls).toEqual([
      [1, 2, 3, 4],
      [5, 6],
    ]);
    expect(await batcher.add(7)).toBe(14);
    expect(calls).toHaveLength(3);
  });

  it('rejects every caller of a failed call, and of a sender that throws at once', async () => {
    const failing = new UpdateBatcher<number, number>(async () => {
      throw new Error('redis is gone');
    });
    const results = await Promise.allSettled([failing.add(1), failing.add(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const throwing = new UpdateBatcher<number, number>(() => {
      throw new Error('bad args');
    });
    await expect(throwing.add(1)).rejects.toThrow('bad args');
  });

  it('addInOrder: `sent` resolves once the call is handed over, before its reply', async () => {
    const events: string[] = [];
    let answer!: () => void;
    const batcher = new UpdateBatcher<string, string>((items) => {
      events.push(`send ${items.join(',')}`);
      return new Promise((resolve) => {
        answer = () => resolve(items.map((i) => `${i}!`));
      });
    });
    const { sent, reply } = batcher.addInOrder('done');
    void reply.then((r) => events.push(`reply ${r}`));
    await sent;
    events.push('sent');
    expect(events).toEqual(['send done', 'sent']);
    answer();
    expect(await reply).toBe('done!');
    expect(events).toEqual(['send done', 'sent', 'reply done!']);
  });
});
