/**
 * Gathers the ledger updates issued while one callback runs and sends them as one call.
 * A worker at concurrency N finishes and starts jobs in bursts (BullMQ answers several of them in
 * one socket read); one Redis call per burst instead of one per update is what keeps the ledger
 * from costing more than the queue itself (bench/scheduling.ts). Updates keep their order, and
 * each caller still waits for its own reply: batching changes when a write is sent, never
 * whether it happened before the caller goes on.
 */
export class UpdateBatcher<Item, Reply> {
  private pending: Array<{ item: Item; resolve: (reply: Reply) => void; reject: (err: unknown) => void; onSent?: () => void }> = [];
  private scheduled = false;

  constructor(
    private readonly send: (items: Item[]) => Promise<Reply[]>,
    /** Upper bound of one call: a Lua script blocks Redis while it runs. */
    private readonly maxBatch = 256,
  ) {}

  add(item: Item): Promise<Reply> {
    return this.enqueue(item);
  }

  /**
   * Like `add`, and `sent` resolves once the call carrying the item has been handed to the
   * connection: a command issued on that connection afterwards runs after it in Redis.
   */
  addInOrder(item: Item): { sent: Promise<void>; reply: Promise<Reply> } {
    let onSent!: () => void;
    const sent = new Promise<void>((resolve) => {
      onSent = resolve;
    });
    return { sent, reply: this.enqueue(item, onSent) };
  }

  private enqueue(item: Item, onSent?: () => void): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      this.pending.push({ item, resolve, reject, onSent });
      if (this.pending.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // A tick callback runs once the promise jobs of the current callback are done: the
        // jobs resumed by replies that arrived in one socket read share a batch. (setImmediate
        // gathers a little more but measured slower: it delays every update by a loop turn.)
        process.nextTick(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    let sent: Promise<Reply[]>;
    try {
      sent = this.send(batch.map((p) => p.item));
    } catch (err) {
      sent = Promise.reject(err);
    }
    for (const p of batch) p.onSent?.();
    sent.then(
      (replies) => batch.forEach((p, i) => p.resolve(replies[i]!)),
      (err: unknown) => batch.forEach((p) => p.reject(err)),
    );
  }
}
