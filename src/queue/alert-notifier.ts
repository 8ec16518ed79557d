/**
 * Optional notifications of what needs an operator: a window that failed or was refused, a
 * window overdue (closed, not done by end + lag + alertAfter), a purge (or any non-windowed run)
 * that failed or was refused. Sent to a webhook as Slack-compatible JSON (`{ text, blocks }`,
 * which Slack, Mattermost, Rocket.Chat and most chat bridges accept) and/or mailed to
 * `alerts.mailTo` through `mail.smtp`.
 *
 * Once per window and state, across every replica: each event is claimed in Redis (SET NX)
 * before it is sent; a send that fails gives the claim back, so the next check tries again.
 * The texts are built from schedule ids, window times, states and the ledger's error lines
 * (already scrubbed, scrubbed again here): never a config value, URL or credential.
 */
import type { RedisClient } from '../redis/connection.js';
import type { Config } from '../config/schema.js';
import type { Mailer } from '../delivery/types.js';
import type { Ledger } from '../ledger/types.js';
import type { Logger } from '../log/logger.js';
import { scrubText } from '../log/secrets.js';
import type { ScheduleState } from './schedule-state.js';
import type { Schedule } from './schedules.js';
import { isRefusal, windowCells } from './window-cells.js';
import { describeWindow, lastClosedWindow } from '../time/windows.js';

export type AlertState = 'failed' | 'refused' | 'overdue';

export interface AlertEvent {
  scheduleId: string;
  kind: string;
  state: AlertState;
  /** The window, or for a run its start (`run`). */
  window?: { start: number; end: number; label: string };
  run?: { startedAt: number; finishedAt: number };
  attempts?: number;
  error?: string;
}

export interface NotifierDeps {
  config: Config;
  schedules: ReadonlyArray<Schedule>;
  ledger: Ledger;
  state: ScheduleState;
  redis: RedisClient;
  mailer: () => Mailer;
  log: Logger;
  now: () => number;
}

/** Claims are kept this long: past it, a window still failing would be announced again. */
const CLAIM_TTL_S = 400 * 86_400;
/** Events listed in one message; the rest are counted. */
const LISTED = 20;
const WEBHOOK_TIMEOUT_MS = 10_000;

export function notificationsEnabled(config: Config): boolean {
  return Boolean(config.alerts.webhook) || config.alerts.mailTo.length > 0;
}

/** Everything that is to be announced now (before the once-only claims). */
export async function currentAlerts(deps: Pick<NotifierDeps, 'schedules' | 'ledger' | 'state' | 'now'>): Promise<AlertEvent[]> {
  const now = deps.now();
  const events: AlertEvent[] = [];
  for (const schedule of deps.schedules) {
    if (schedule.window) {
      const origin = schedule.startAt ?? (await deps.state.pinnedOrigin(schedule.id));
      if (origin === undefined) continue;
      const watermark = await deps.ledger.watermark(schedule.id, origin);
      const last = lastClosedWindow(schedule.window, schedule.tz, now, schedule.lagMs);
      if (last.end <= watermark) continue;
      const cells = await windowCells(deps.ledger, schedule, { from: Math.max(origin, watermark), to: last.end }, now, origin);
      for (const cell of cells) {
        const window = { start: cell.start, end: cell.end, label: describeWindow(cell, schedule.window, schedule.tz) };
        const base = {
          scheduleId: schedule.id,
          kind: schedule.kind.name,
          window,
          ...(cell.attempts !== undefined ? { attempts: cell.attempts } : {}),
          ...(cell.error ? { error: cell.error } : {}),
        };
        if (cell.state === 'failed' || cell.state === 'refused') events.push({ ...base, state: cell.state });
        if (cell.overdue) events.push({ ...base, state: 'overdue' });
      }
    } else {
      const [run] = await deps.ledger.lastAttempts(schedule.id, 1);
      if (run?.state === 'failed') {
        events.push({
          scheduleId: schedule.id,
          kind: schedule.kind.name,
          state: isRefusal(run.error) ? 'refused' : 'failed',
          run: { startedAt: run.startedAt, finishedAt: run.finishedAt },
          ...(run.error ? { error: run.error } : {}),
        });
      }
    }
  }
  return events;
}

function eventKey(prefix: string, channel: string, e: AlertEvent): string {
  const at = e.window ? `w${e.window.start}` : `r${e.run!.startedAt}`;
  return `${prefix}:alerts:sent:${channel}:${e.scheduleId}:${at}:${e.state}`;
}

function line(e: AlertEvent): string {
  const what = e.window ? `window ${e.window.label}` : `run of ${new Date(e.run!.startedAt).toISOString()}`;
  const verb =
    e.state === 'overdue' ? 'is overdue (closed, not done by end + lag + alertAfter)' : e.state === 'refused' ? 'was refused' : 'failed';
  const attempts = e.attempts ? ` after ${e.attempts} attempt(s)` : '';
  const error = e.error ? `: ${scrubText(e.error).split('\n')[0]!.slice(0, 300)}` : '';
  return `${e.scheduleId} (${e.kind}) ${what} ${verb}${e.state === 'overdue' ? '' : attempts}${error}`;
}

/** Subject and text of one notification. */
export function describeAlerts(events: AlertEvent[]): { subject: string; text: string } {
  const byState = (['failed', 'refused', 'overdue'] as const)
    .map((s) => [s, events.filter((e) => e.state === s).length] as const)
    .filter(([, n]) => n > 0);
  const subject = `ox-batch: ${byState.map(([s, n]) => `${n} ${s}`).join(', ')}`;
  const listed = events.slice(0, LISTED).map((e) => `- ${line(e)}`);
  if (events.length > LISTED) listed.push(`- and ${events.length - LISTED} more`);
  const text = `${subject}\n${listed.join('\n')}\nSee /ui/windows on the daemon's port, or run ox-batch status.`;
  return { subject, text };
}

export class AlertNotifier {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(private readonly deps: NotifierDeps) {}

  start(): void {
    const every = this.deps.config.alerts.checkEvery;
    this.timer = setInterval(() => void this.check().catch((err: unknown) => this.deps.log.warn({ err }, 'alert check failed')), every);
    this.timer.unref();
    void this.check().catch((err: unknown) => this.deps.log.warn({ err }, 'alert check failed'));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One check: claims the new events and sends them; returns how many were sent. */
  check(): Promise<number> {
    this.running ??= this.checkOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async checkOnce(): Promise<number> {
    const { config } = this.deps;
    const events = await currentAlerts(this.deps);
    if (events.length === 0) return 0;
    const channels: Array<[string, (message: { subject: string; text: string }, keys: string[]) => Promise<void>]> = [];
    if (config.alerts.webhook) channels.push(['webhook', (message) => this.postWebhook(config.alerts.webhook!, message)]);
    if (config.alerts.mailTo.length > 0) channels.push(['mail', (message, keys) => this.mail(message, keys)]);
    // Each channel claims and sends on its own: a webhook that is down does not make the mail
    // go out twice, and the other way round.
    const sent = await Promise.all(channels.map(([channel, send]) => this.announce(channel, events, send)));
    return Math.max(0, ...sent);
  }

  private async announce(
    channel: string,
    events: AlertEvent[],
    send: (message: { subject: string; text: string }, keys: string[]) => Promise<void>,
  ): Promise<number> {
    const { redis, config } = this.deps;
    const claimed: Array<{ event: AlertEvent; key: string }> = [];
    for (const event of events) {
      const key = eventKey(config.redis.prefix, channel, event);
      if ((await redis.set(key, String(this.deps.now()), 'EX', CLAIM_TTL_S, 'NX')) === 'OK') claimed.push({ event, key });
    }
    if (claimed.length === 0) return 0;
    const message = describeAlerts(claimed.map((c) => c.event));
    try {
      await send(
        message,
        claimed.map((c) => c.key),
      );
    } catch (err) {
      // Give the claims back: the next check announces them again.
      await redis.del(...claimed.map((c) => c.key)).catch(() => undefined);
      this.deps.log.warn(
        { channel, events: claimed.length, err: { message: (err as Error).message } },
        'alert notification not sent; the next check tries again',
      );
      return 0;
    }
    this.deps.log.info({ channel, events: claimed.length }, `alert notification sent: ${message.subject}`);
    return claimed.length;
  }

  private async postWebhook(url: string, message: { subject: string; text: string }): Promise<void> {
    const body = {
      text: message.text,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: message.subject } },
        { type: 'section', text: { type: 'mrkdwn', text: message.text.split('\n').slice(1).join('\n') } },
      ],
    };
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
    } catch (err) {
      // The URL (a Slack hook URL is a secret) never goes into the error.
      throw new Error(`alerts.webhook: the request failed (${(err as Error).name})`);
    }
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new Error(`alerts.webhook: answered HTTP ${res.status}`);
  }

  private async mail(message: { subject: string; text: string }, keys: string[]): Promise<void> {
    const { config } = this.deps;
    const id = Buffer.from(keys.join('|')).toString('base64url').slice(-32);
    await this.deps.mailer().send({
      from: config.mail.from,
      to: config.alerts.mailTo,
      subject: message.subject,
      text: message.text,
      messageId: `<oxb.alert.${this.deps.now().toString(36)}.${id}@ox-batch>`,
    });
  }
}
