/**
 * The exactly-once log a job gets for the window it runs (`JobContext.deliveries`), over any
 * `Ledger`, and the in-memory one of a preview.
 */
import type { DeliveryLog, DeliveryRecord, Ledger, WindowKey } from './types.js';

/**
 * The exactly-once log of one (schedule, window), as handed to a job in `JobContext.deliveries`.
 * `owner` is the attempt holding the window: its mail claims are its own.
 */
export function deliveryLogFor(ledger: Ledger, key: WindowKey, owner: string): DeliveryLog {
  return {
    get: (deliveryId) => ledger.getDelivery(key, deliveryId),
    record: (deliveryId, record) => ledger.recordDelivery(key, deliveryId, { ...record, at: record.at ?? Date.now() }),
    claimMail: (request) => ledger.claimMail(key, owner, request),
    settleMail: (outcome, entries) =>
      ledger.settleMail(
        key,
        owner,
        outcome,
        entries.map((e) => ({ address: e.address, ...(e.record ? { record: { ...e.record, at: Date.now() } } : {}) })),
      ),
  };
}

/**
 * A delivery log that lives only as long as the run: a preview (`ox-batch run --open`) must
 * neither read nor write the window's exactly-once records.
 */
export function memoryDeliveryLog(): DeliveryLog {
  const records = new Map<string, DeliveryRecord>();
  return {
    get: async (deliveryId) => records.get(deliveryId) ?? null,
    record: async (deliveryId, record) => {
      records.set(deliveryId, { ...record, at: record.at ?? Date.now() });
    },
    claimMail: async (request) =>
      request.addresses.map((address) => ({
        address,
        messageId: request.messageId,
        status: records.has(`mail:${address}`) ? ('sent' as const) : ('claimed' as const),
      })),
    settleMail: async (outcome, entries) => {
      if (outcome !== 'sent') return;
      for (const e of entries) records.set(`mail:${e.address}`, { ...e.record, at: Date.now() });
    },
  };
}

/** The key of a non-windowed job's records: its deliveries are per schedule. */
export function scheduleKey(scheduleId: string): WindowKey {
  return { scheduleId, start: 0, end: 0 };
}
