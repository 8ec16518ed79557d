/**
 * The collaborators a job gets (`Services`), built lazily: a job that never touches S3 or SMTP
 * does not need them configured, and `ox-batch run passwd.audit` does not open an S3 client.
 */
import type { Config } from './config/schema.js';
import type { Logger } from './log/logger.js';
import type { Services } from './job-kind.js';
import type { OxApi, OxRequestObserver } from './ox/types.js';
import type { ArchiveStore, Mailer } from './delivery/types.js';
import { OxClient } from './ox/ox-client.js';
import { createArchive } from './delivery/create-archive.js';
import { tracedArchive, tracedMailer } from './telemetry/traced-stores.js';
import { createMailer } from './delivery/smtp-mailer.js';
import { RedisLedger } from './ledger/redis-ledger.js';
import { closeRedis, createRedis, type RedisClient } from './redis/connection.js';
import type { TickData } from './queue/queues.js';
import type { Queue } from 'bullmq';

export interface ServiceOptions {
  log: Logger;
  /** A Redis client to share; created from config.redis.url (and closed by `close`) when absent. */
  redis?: RedisClient;
  /** Called once per OX HTTP request (metrics). */
  observer?: OxRequestObserver;
  /** Clock override for tests. */
  now?: () => number;
}

export type ClosableServices = Services & { readonly ledger: RedisLedger; close(): Promise<void> };

export function createServices(config: Config, options: ServiceOptions): ClosableServices {
  const { log } = options;
  let ox: OxApi | undefined;
  let archive: ArchiveStore | undefined;
  let mailer: Mailer | undefined;
  let redis: RedisClient | undefined = options.redis;
  let ledger: RedisLedger | undefined;
  let ticks: Queue<TickData> | undefined;
  const ownsRedis = options.redis === undefined;

  const getRedis = (): RedisClient => {
    redis ??= createRedis(config.redis.url, 'command', log, 'ox-batch');
    return redis;
  };

  return {
    config,
    log,
    now: options.now ?? (() => Date.now()),
    get ox() {
      return (ox ??= new OxClient(config.ox, { observer: options.observer, log: log.child({ component: 'ox' }) }));
    },
    get archive() {
      return (archive ??= tracedArchive(createArchive(config.archive)));
    },
    get mailer() {
      return (mailer ??= tracedMailer(createMailer(config.mail)));
    },
    get redis() {
      return getRedis();
    },
    get ledger() {
      ledger ??= new RedisLedger(getRedis(), config.redis.prefix);
      return ledger;
    },
    async requestTick(scheduleId, id) {
      // BullMQ is loaded only here: a run that never asks for a tick (most) does not carry it.
      if (!ticks) {
        const { TICK_QUEUE, createQueue } = await import('./queue/queues.js');
        ticks ??= createQueue<TickData>(TICK_QUEUE, config, getRedis(), log);
      }
      await ticks.add('tick', { type: 'tick', scheduleId }, { jobId: id, removeOnComplete: { count: 50 }, removeOnFail: { count: 200 } });
    },
    async close() {
      const closing: Array<Promise<unknown>> = [];
      if (ticks) closing.push(ticks.close());
      if (ox) closing.push(ox.close());
      if (archive) closing.push(archive.close());
      if (mailer) closing.push(mailer.close());
      await Promise.allSettled(closing);
      if (redis && ownsRedis) await closeRedis(redis);
    },
  };
}
