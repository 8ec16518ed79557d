/**
 * What the window grid (`/ui/windows`) and its JSON API show, read from the ledger, the queue and
 * the archive: per schedule its status and cells over a range, the purge's verified watermark
 * and last cutoff on the export row that guards it, one window opened (result, manifest, mails,
 * attempts with their errors, durations), and the last runs of a non-windowed schedule.
 * And the grid's two actions, through the same path as `ox-batch backfill` (`enqueueWindows`,
 * with its refusals): backfill a range, retry a failed window.
 */
import type { Job, Queue } from 'bullmq';
import type { Config } from '../config/schema.js';
import type { ArchiveStore } from '../delivery/types.js';
import { InputError, RefusedError } from '../errors.js';
import type { AttemptRecord, Ledger, WindowRecord } from '../ledger/types.js';
import { enqueueWindows, summarize, type EnqueueContext, type EnqueueStatus, type EnqueueSummary } from './enqueue.js';
import { windowJobId } from './job-ids.js';
import type { JobData } from './queues.js';
import type { ScheduleState } from './schedule-state.js';
import { scheduleStatus, type ScheduleStatus } from './schedule-status.js';
import type { Schedule } from './schedules.js';
import { isRefusal, windowCells, type WindowCell } from './window-cells.js';
import { describeWindow, windowContaining, windowsBetween, type Window } from '../time/windows.js';

export interface WindowViewDeps {
  config: Config;
  schedules: ReadonlyArray<Schedule>;
  ledger: Ledger;
  state: ScheduleState;
  queue: Queue<JobData>;
  /** The archive, for manifests and presigned links (made on first use). */
  archive: () => ArchiveStore;
  now: () => number;
}

/** A purge's last verified watermark and cutoff, drawn on the export schedule it is guarded by. */
export interface PurgeMarker {
  purgeScheduleId: string;
  guardScheduleId: string;
  /** End of the contiguous verified archive the last purge checked. */
  watermark?: number;
  /** Feedback before this instant was deleted from OX by the last purge that deleted. */
  cutoff?: number;
  at: number;
}

export interface ScheduleSummary extends ScheduleStatus {
  windowed: boolean;
  markers: PurgeMarker[];
}

export interface RunView {
  state: 'done' | 'failed' | 'refused';
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  error?: string;
  oxError?: OxErrorFields;
  result?: unknown;
}

export interface OxErrorFields {
  code?: string;
  errorDesc?: string;
  errorId?: string;
  status?: number;
}

export interface AttemptView {
  attempt: number;
  error: string;
  oxError?: OxErrorFields;
}

export interface WindowDetail extends WindowCell {
  scheduleId: string;
  label: string;
  queuedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  sha256?: string;
  archive?: {
    key: string;
    kind: 'fs' | 's3';
    location: string;
    link?: string;
    linkError?: string;
    verifiedAt?: string;
    manifestKey?: string;
  };
  manifest?: unknown;
  manifestError?: string;
  /** Per recipient: `sent`, or a claim in flight / of unknown outcome (one mail per recipient and window). */
  mails: Array<{ id: string; recipient?: string; messageId?: string; state?: string; at: number; detail: Record<string, unknown> }>;
  attemptErrors: AttemptView[];
  job?: { id: string; state: string; attemptsMade: number; processedOn?: number; finishedOn?: number; failedReason?: string };
  result?: unknown;
}

/** OX's error fields as OxError's message spells them: `… HTTP 500 FEEDBACK-0003 - desc (error_id 1-2)`. */
export function oxErrorFields(message: string | undefined): OxErrorFields | undefined {
  if (!message || !/OX \S+ failed:/.test(message)) return undefined;
  const fields: OxErrorFields = {};
  const status = /\bHTTP (\d{3})\b/.exec(message);
  if (status) fields.status = Number(status[1]);
  const code = /\b([A-Z][A-Z0-9_]*-\d{3,5})\b/.exec(message);
  if (code) fields.code = code[1];
  const desc = / - (.+?)(?: \(error_id [^)]*\)| - |\s\[after|$)/.exec(message);
  if (desc && code) fields.errorDesc = desc[1];
  const id = /\(error_id ([^)]+)\)/.exec(message);
  if (id) fields.errorId = id[1];
  return Object.keys(fields).length > 0 ? fields : undefined;
}

function findSchedule(deps: WindowViewDeps, id: string): Schedule {
  const schedule = deps.schedules.find((s) => s.id === id);
  if (!schedule) throw new InputError(`unknown schedule "${id}" (configured: ${deps.schedules.map((s) => s.id).join(', ') || 'none'})`);
  return schedule;
}

async function originOf(deps: WindowViewDeps, schedule: Schedule): Promise<number | undefined> {
  return schedule.startAt ?? (await deps.state.pinnedOrigin(schedule.id));
}

/** Markers of every purge schedule, from its newest runs: the verified watermark and the cutoff. */
export async function purgeMarkers(deps: WindowViewDeps): Promise<PurgeMarker[]> {
  const purges = deps.schedules.filter((s) => s.kind.name === 'feedback.purge');
  const markers = await Promise.all(
    purges.map(async (purge) => {
      const runs = await deps.ledger.lastAttempts(purge.id, 20);
      for (const run of runs) {
        if (run.state !== 'done') continue;
        const r = run.result as
          { dryRun?: unknown; cutoffMs?: unknown; ox?: unknown; guard?: { scheduleId?: unknown; watermark?: unknown } } | undefined;
        if (!r || r.dryRun === true || typeof r.guard?.scheduleId !== 'string') continue;
        const watermark = typeof r.guard.watermark === 'string' ? Date.parse(r.guard.watermark) : undefined;
        const marker: PurgeMarker = { purgeScheduleId: purge.id, guardScheduleId: r.guard.scheduleId, at: run.finishedAt };
        if (watermark !== undefined && Number.isFinite(watermark)) marker.watermark = watermark;
        if (typeof r.cutoffMs === 'number' && r.ox !== undefined) marker.cutoff = r.cutoffMs;
        return marker;
      }
      return undefined;
    }),
  );
  return markers.filter((m): m is PurgeMarker => m !== undefined);
}

export async function scheduleSummaries(deps: WindowViewDeps): Promise<ScheduleSummary[]> {
  const now = deps.now();
  const [statuses, markers] = await Promise.all([Promise.all(deps.schedules.map((s) => scheduleStatus(deps, s, now))), purgeMarkers(deps)]);
  return statuses.map((status, i) => ({
    ...status,
    windowed: deps.schedules[i]!.window !== undefined,
    markers: markers.filter((m) => m.guardScheduleId === status.id),
  }));
}

export async function scheduleCells(deps: WindowViewDeps, id: string, range: { from: number; to: number }): Promise<WindowCell[]> {
  const schedule = findSchedule(deps, id);
  if (!schedule.window)
    throw new InputError(
      `schedule ${id}: job ${schedule.kind.name} does not work on time windows; its runs are at /api/schedules/${id}/runs`,
    );
  return windowCells(deps.ledger, schedule, range, deps.now(), await originOf(deps, schedule));
}

function runView(run: AttemptRecord): RunView {
  const refused = run.state === 'failed' && isRefusal(run.error);
  const oxError = oxErrorFields(run.error);
  return {
    state: refused ? 'refused' : run.state,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    durationMs: run.finishedAt - run.startedAt,
    ...(run.error ? { error: run.error } : {}),
    ...(oxError ? { oxError } : {}),
    ...(run.result !== undefined ? { result: run.result } : {}),
  };
}

/** The last runs of a non-windowed schedule, newest first. */
export async function scheduleRuns(deps: WindowViewDeps, id: string, count = 30): Promise<RunView[]> {
  findSchedule(deps, id);
  return (await deps.ledger.lastAttempts(id, count)).map(runView);
}

/** Errors per failed attempt, from BullMQ's stack traces (first line: the error's message). */
function attemptsOf(job: Job<JobData> | undefined, record: WindowRecord | undefined): AttemptView[] {
  const traces = (job?.stacktrace ?? []).filter((t): t is string => typeof t === 'string' && t.length > 0);
  const attempts: AttemptView[] = traces.map((trace, i) => {
    const error = trace.split('\n')[0]!.replace(/^AttemptError: /, '');
    const oxError = oxErrorFields(error);
    return { attempt: i + 1, error, ...(oxError ? { oxError } : {}) };
  });
  if (attempts.length === 0 && record?.lastError) {
    const oxError = oxErrorFields(record.lastError);
    attempts.push({ attempt: record.attempts, error: record.lastError, ...(oxError ? { oxError } : {}) });
  }
  return attempts;
}

/** One window opened: everything the ledger, the queue and the archive know about it. */
export async function windowDetail(deps: WindowViewDeps, id: string, start: number): Promise<WindowDetail> {
  const schedule = findSchedule(deps, id);
  if (!schedule.window) throw new InputError(`schedule ${id} has no windows`);
  const window = windowContaining(schedule.window, schedule.tz, start);
  if (window.start !== start)
    throw new InputError(
      `schedule ${id}: ${new Date(start).toISOString()} is not the start of a ${schedule.window} window in ${schedule.tz} (that window starts at ${new Date(window.start).toISOString()})`,
    );
  const [cell] = await windowCells(
    deps.ledger,
    schedule,
    { from: window.start, to: window.end },
    deps.now(),
    await originOf(deps, schedule),
  );
  const key = { scheduleId: id, start: window.start, end: window.end };
  const [record, deliveries, job] = await Promise.all([
    deps.ledger.getWindow(key),
    deps.ledger.listDeliveries(key),
    deps.queue.getJob(windowJobId(id, window)) as Promise<Job<JobData> | undefined>,
  ]);
  const result = (record?.state === 'done' || record?.result !== undefined ? record?.result : undefined) as
    { sha256?: unknown; archive?: { key?: unknown; manifestKey?: unknown; location?: unknown; verifiedAt?: unknown } } | undefined;
  const detail: WindowDetail = {
    ...cell!,
    scheduleId: id,
    label: describeWindow(window, schedule.window, schedule.tz),
    ...(record?.queuedAt !== undefined ? { queuedAt: record.queuedAt } : {}),
    ...(record?.startedAt !== undefined ? { startedAt: record.startedAt } : {}),
    ...(record?.finishedAt !== undefined ? { finishedAt: record.finishedAt } : {}),
    ...(record?.startedAt !== undefined && record.finishedAt !== undefined && record.finishedAt >= record.startedAt
      ? { durationMs: record.finishedAt - record.startedAt }
      : {}),
    ...(typeof result?.sha256 === 'string' ? { sha256: result.sha256 } : {}),
    mails: Object.entries(deliveries)
      .filter(([deliveryId]) => !deliveryId.startsWith('archive'))
      .map(([deliveryId, d]) => {
        const { at, ...rest } = d;
        const recipient =
          typeof rest.recipient === 'string' ? rest.recipient : typeof rest.to === 'string' ? rest.to : /^mail:(.+)$/.exec(deliveryId)?.[1];
        return {
          id: deliveryId,
          ...(recipient ? { recipient } : {}),
          ...(typeof rest.messageId === 'string' ? { messageId: rest.messageId } : {}),
          ...(typeof rest.state === 'string' ? { state: rest.state } : {}),
          at,
          detail: rest,
        };
      }),
    attemptErrors: attemptsOf(job, record ?? undefined),
    ...(record?.result !== undefined ? { result: record.result } : {}),
  };
  if (job) {
    detail.job = {
      id: job.id!,
      state: await job.getState(),
      attemptsMade: job.attemptsMade,
      ...(job.processedOn ? { processedOn: job.processedOn } : {}),
      ...(job.finishedOn ? { finishedOn: job.finishedOn } : {}),
      ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    };
  }
  const archived = result?.archive;
  if (archived && typeof archived.key === 'string') {
    const archive = deps.archive();
    const info: NonNullable<WindowDetail['archive']> = {
      key: archived.key,
      kind: archive.kind,
      location: typeof archived.location === 'string' ? archived.location : archive.describe(archived.key),
      ...(typeof archived.verifiedAt === 'string' ? { verifiedAt: archived.verifiedAt } : {}),
      ...(typeof archived.manifestKey === 'string' ? { manifestKey: archived.manifestKey } : {}),
    };
    if (archive.kind === 's3') {
      try {
        info.link = await archive.presignGet(archived.key, deps.config.archive.linkTtl);
      } catch (err) {
        info.linkError = (err as Error).message;
      }
    }
    detail.archive = info;
    if (info.manifestKey) {
      try {
        detail.manifest = await archive.readJson(info.manifestKey);
      } catch (err) {
        detail.manifestError = (err as Error).message;
      }
    }
  }
  return detail;
}

export interface ActionResult {
  scheduleId: string;
  counts: EnqueueSummary;
  windows: Array<{ start: number; end: number; status: EnqueueStatus; jobId: string }>;
  message: string;
}

function enqueueContext(deps: WindowViewDeps): EnqueueContext {
  return { queue: deps.queue, ledger: deps.ledger, config: deps.config, now: deps.now };
}

function actionResult(scheduleId: string, results: Awaited<ReturnType<typeof enqueueWindows>>): ActionResult {
  const counts = summarize(results);
  return {
    scheduleId,
    counts,
    windows: results.map((r) => ({ start: r.window!.start, end: r.window!.end, status: r.status, jobId: r.jobId })),
    message: `${scheduleId}: ${counts.queued} queued, ${counts.requeued} failed ones queued again, ${counts.pending} already queued or running, ${counts.done} already done`,
  };
}

/** `ox-batch backfill ID --from --to`: every window of the range, through enqueueWindows. */
export async function backfillRange(deps: WindowViewDeps, id: string, range: { from: number; to: number }): Promise<ActionResult> {
  const schedule = findSchedule(deps, id);
  if (!schedule.window)
    throw new InputError(`schedule ${id}: job ${schedule.kind.name} does not work on time windows; use ox-batch enqueue ${id}`);
  if (!(range.to > range.from))
    throw new InputError(`to ${new Date(range.to).toISOString()} is not after from ${new Date(range.from).toISOString()}`);
  const windows = windowsBetween(schedule.window, schedule.tz, range.from, range.to);
  const results = await enqueueWindows(
    enqueueContext(deps),
    windows.map((window) => ({
      scheduleId: id,
      kind: schedule.kind,
      window,
      params: schedule.params,
      attempts: schedule.attempts,
    })),
  );
  return actionResult(id, results);
}

/** Retry one failed (or refused) window, as the next tick would: through enqueueWindows, not forced. */
export async function retryWindow(deps: WindowViewDeps, id: string, start: number): Promise<ActionResult> {
  const schedule = findSchedule(deps, id);
  if (!schedule.window) throw new InputError(`schedule ${id} has no windows`);
  const window: Window = windowContaining(schedule.window, schedule.tz, start);
  if (window.start !== start)
    throw new InputError(`schedule ${id}: ${new Date(start).toISOString()} is not the start of a ${schedule.window} window`);
  const record = await deps.ledger.getWindow({ scheduleId: id, ...window });
  if (record?.state !== 'failed') {
    const what =
      record?.state === 'done'
        ? 'is done: a done window runs again only with `ox-batch enqueue --force` (its archive then refuses a different export)'
        : record
          ? `is ${record.state}, not failed`
          : 'has not run: backfill it instead';
    throw new RefusedError(`${id} ${describeWindow(window, schedule.window, schedule.tz)} ${what}`);
  }
  const results = await enqueueWindows(enqueueContext(deps), [
    { scheduleId: id, kind: schedule.kind, window, params: schedule.params, attempts: schedule.attempts },
  ]);
  return actionResult(id, results);
}
