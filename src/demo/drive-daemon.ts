/**
 * What an operator does to a running daemon, done from code: put windows or runs of a schedule
 * on its queue (the same enqueue path `ox-batch backfill` / `enqueue` and the ticks use, with
 * deterministic job ids and the ledger deciding), then wait until the workers finished them.
 */
import type { Job } from 'bullmq';
import type { Daemon } from '../daemon/daemon.js';
import { enqueueRun, enqueueWindows, type EnqueueContext } from '../queue/enqueue.js';
import type { JobData } from '../queue/queues.js';
import type { Schedule } from '../queue/schedules.js';
import { windowsBetween } from '../time/windows.js';

/** What the job processor returns for a job (see job-processor.ts). */
export interface FinishedJob {
  jobId: string;
  state: 'completed' | 'failed';
  status?: 'done' | 'skipped' | 'failed';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each job kind's own JSON result; the demo reads the fields it shows
  result?: any;
  reason?: string;
  window?: { start: number; end: number };
}

export function scheduleOf(daemon: Daemon, id: string): Schedule {
  const schedule = daemon.schedules.find((s) => s.id === id);
  if (!schedule) throw new Error(`schedule ${id} is not in the config`);
  return schedule;
}

function context(daemon: Daemon): EnqueueContext {
  return { queue: daemon.jobsQueue, ledger: daemon.services.ledger, config: daemon.config };
}

/** `ox-batch backfill SCHEDULE --from --to --wait`, optionally with params changed for this run. */
export async function backfill(
  daemon: Daemon,
  scheduleId: string,
  from: number,
  to: number,
  options: { params?: Record<string, unknown>; timeoutMs?: number } = {},
): Promise<FinishedJob[]> {
  const schedule = scheduleOf(daemon, scheduleId);
  const windows = windowsBetween(schedule.window!, schedule.tz, from, to);
  const params = { ...(schedule.params as Record<string, unknown>), ...options.params };
  const results = await enqueueWindows(
    context(daemon),
    windows.map((window) => ({
      scheduleId,
      kind: schedule.kind,
      window,
      params,
      attempts: schedule.attempts,
    })),
  );
  const finished = await waitForJobs(
    daemon,
    results.map((r) => r.jobId),
    options.timeoutMs ?? 90_000,
  );
  return finished.map((f, i) => ({ ...f, window: { start: windows[i]!.start, end: windows[i]!.end } }));
}

/** `ox-batch enqueue SCHEDULE --wait` for a non-windowed schedule. */
export async function runOnce(
  daemon: Daemon,
  scheduleId: string,
  at: number,
  options: { params?: Record<string, unknown>; timeoutMs?: number } = {},
): Promise<FinishedJob> {
  const schedule = scheduleOf(daemon, scheduleId);
  const params = { ...(schedule.params as Record<string, unknown>), ...options.params };
  const { jobId } = await enqueueRun(context(daemon), { scheduleId, kind: schedule.kind, params, attempts: schedule.attempts, at });
  const [finished] = await waitForJobs(daemon, [jobId], options.timeoutMs ?? 60_000);
  return finished!;
}

/** Polls until every job completed or failed for good (retries included). */
export async function waitForJobs(daemon: Daemon, jobIds: string[], timeoutMs: number): Promise<FinishedJob[]> {
  const deadline = Date.now() + timeoutMs;
  const finished = new Map<string, FinishedJob>();
  while (finished.size < jobIds.length) {
    for (const jobId of jobIds) {
      if (finished.has(jobId)) continue;
      const probe = (await daemon.jobsQueue.getJob(jobId)) as Job<JobData> | undefined;
      if (!probe) continue;
      const state = await probe.getState();
      if (state !== 'completed' && state !== 'failed') continue;
      // Read the job again: the first read may predate the moment it finished (no result yet).
      const job = ((await daemon.jobsQueue.getJob(jobId)) as Job<JobData> | undefined) ?? probe;
      if (state === 'completed') {
        const value = job.returnvalue as { status?: FinishedJob['status']; result?: unknown; reason?: string } | null;
        finished.set(jobId, { jobId, state, status: value?.status, result: value?.result, reason: value?.reason });
      } else {
        finished.set(jobId, { jobId, state, status: 'failed', reason: job.failedReason });
      }
    }
    if (finished.size === jobIds.length) break;
    if (Date.now() > deadline) {
      const open = jobIds.filter((id) => !finished.has(id));
      throw new Error(
        `jobs still not finished after ${Math.round(timeoutMs / 1000)} s: ${open.slice(0, 5).join(', ')}${open.length > 5 ? ', …' : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return jobIds.map((id) => finished.get(id)!);
}
