/**
 * What a worker accepts from the `jobs` queue: only job data that a configured schedule (its
 * tick) or an ox-batch command (`run`, `enqueue`, `backfill`) could have made. Anything else in
 * Redis — a job added by hand or by another tool, data of an older config, a tampered job — is
 * refused with a readable reason before anything runs or the ledger is touched.
 *
 * Made by ox-batch (queue/enqueue.ts):
 *  - window jobs `{type:'window', scheduleId, job, start, end, params, force?, reexport?}`: a configured
 *    windowed schedule with its own job kind and an aligned window of it, or a windowed job
 *    kind's own name as schedule id (an unscheduled `enqueue <job> --start --end`);
 *  - run jobs `{type:'run', scheduleId, job, params}`: the same for non-windowed kinds;
 *  - params the kind's schema accepts, with no keys it does not know (they are its output).
 */
import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import type { JobDataRefusedCode } from '../errors.js';
import type { AnyJobKind } from '../job-kind.js';
import { maskValue, scrubText } from '../log/secrets.js';
import type { JobData } from './queues.js';
import { validateParams, type Schedule } from './schedules.js';
import { describeWindow, windowContaining } from '../time/windows.js';

/** The fields each job type may carry; a new field must be added here to be accepted. */
const FIELDS = {
  window: new Set(['type', 'scheduleId', 'job', 'start', 'end', 'params', 'force', 'reexport']),
  run: new Set(['type', 'scheduleId', 'job', 'params']),
} as const;

export interface JobDataContext {
  kinds: ReadonlyArray<AnyJobKind>;
  schedules: ReadonlyArray<Schedule>;
}

export type JobDataCheck = { accepted: true; data: JobData; kind: AnyJobKind; schedule?: Schedule } | { accepted: false; reason: string };

/**
 * A job the worker refuses to run: failed for good, nothing run, the ledger left alone. It
 * extends BullMQ's UnrecoverableError (BullMQ fails a job for good by that class), so it cannot
 * extend OxBatchError; it carries the family's members all the same.
 */
export class RefusedJobDataError extends UnrecoverableError {
  readonly code: JobDataRefusedCode = 'OXB_JOB_DATA_REFUSED';
  readonly retryable = false;
  constructor(reason: string) {
    super(`refused job data: ${reason}`);
    // BullMQ recognises "no retries" by this name as well as by class.
    this.name = 'UnrecoverableError';
  }
}

/** Checks one job of the `jobs` queue: its BullMQ name and its data. */
export function checkJobData(name: string | undefined, data: unknown, context: JobDataContext): JobDataCheck {
  // Whatever a forged job carries is quoted scrubbed: a URL with a password must not reach the log.
  const refuse = (reason: string): JobDataCheck => ({ accepted: false, reason: scrubText(reason) });
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return refuse('the data is not an object');
  const d = data as Record<string, unknown>;
  if (d.type !== 'window' && d.type !== 'run') return refuse(`type ${shown('type', d.type)} is neither "window" nor "run"`);
  const unknown = Object.keys(d).filter((key) => !FIELDS[d.type as 'window' | 'run'].has(key));
  if (unknown.length > 0)
    return refuse(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} in a ${d.type} job`);
  if (typeof d.job !== 'string' || d.job === '') return refuse(`job ${shown('job', d.job)} is not a job kind name`);
  if (typeof d.scheduleId !== 'string' || d.scheduleId === '')
    return refuse(`scheduleId ${shown('scheduleId', d.scheduleId)} is not a schedule id`);
  if (name !== d.job) return refuse(`the job is named ${shown('name', name)} but its data says job "${d.job}"`);

  const kind = context.kinds.find((k) => k.name === d.job);
  if (!kind) return refuse(`unknown job kind "${d.job}" (this worker knows: ${context.kinds.map((k) => k.name).join(', ') || 'none'})`);
  const schedule = context.schedules.find((s) => s.id === d.scheduleId);
  if (schedule) {
    if (schedule.kind.name !== kind.name) return refuse(`schedule ${schedule.id} runs job ${schedule.kind.name}, not ${kind.name}`);
  } else if (d.scheduleId !== kind.name) {
    const configured = context.schedules.map((s) => s.id).join(', ') || 'none';
    return refuse(
      `scheduleId "${d.scheduleId}" is neither a configured schedule (${configured}) nor the job kind's name ("${kind.name}"); a schedule added to the config needs its workers restarted`,
    );
  }
  if (d.type === 'window' && !kind.windowed) return refuse(`job ${kind.name} does not work on time windows, but this is a window job`);
  if (d.type === 'run' && kind.windowed) return refuse(`job ${kind.name} works on time windows, but this job has none`);

  if (d.type === 'window') {
    const problem = windowProblem(d, schedule);
    if (problem) return refuse(problem);
    if (d.force !== undefined && d.force !== true && d.force !== false) return refuse(`force ${shown('force', d.force)} is not a boolean`);
    if (d.reexport !== undefined && !isInstant(d.reexport))
      return refuse(`reexport ${shown('reexport', d.reexport)} is not epoch milliseconds`);
  }
  const params = d.params ?? {};
  if (typeof params !== 'object' || params === null || Array.isArray(params))
    return refuse(`params ${shown('params', params)} is not an object`);
  const known = paramKeys(kind.params);
  const extra = known ? Object.keys(params).filter((key) => !known.has(key)) : [];
  if (extra.length > 0)
    return refuse(
      `params of job ${kind.name} have unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => JSON.stringify(k)).join(', ')}`,
    );
  try {
    validateParams(kind, params, `job ${kind.name}`);
  } catch (err) {
    return refuse((err as Error).message);
  }
  return { accepted: true, data: d as unknown as JobData, kind, ...(schedule ? { schedule } : {}) };
}

function windowProblem(d: Record<string, unknown>, schedule: Schedule | undefined): string | undefined {
  const { start, end } = d;
  if (!isInstant(start) || !isInstant(end))
    return `window bounds start ${shown('start', start)}, end ${shown('end', end)} are not epoch milliseconds`;
  if (!(end > start)) return `window end ${end} is not after start ${start}`;
  if (!schedule?.window) return undefined;
  const aligned = windowContaining(schedule.window, schedule.tz, start);
  if (aligned.start !== start || aligned.end !== end) {
    return `${describeWindow({ start, end })} is not a window of schedule ${schedule.id} (${schedule.window} windows in ${schedule.tz}; the one containing its start is ${describeWindow(aligned)})`;
  }
  return undefined;
}

function isInstant(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Keys an object schema knows (through a transform's input too); undefined when it is no object schema. */
function paramKeys(schema: z.ZodType): Set<string> | undefined {
  if (schema instanceof z.ZodObject) return new Set(Object.keys(schema.shape));
  if (schema instanceof z.ZodPipe) return paramKeys(schema.in as z.ZodType);
  return undefined;
}

/** A value for a refusal message: short, one line, secrets masked. */
function shown(key: string, value: unknown): string {
  if (value === undefined) return '(missing)';
  const masked = maskValue(key, value);
  const text = masked.length > 80 ? `${masked.slice(0, 77)}...` : masked;
  return typeof value === 'string' ? JSON.stringify(text) : text;
}
