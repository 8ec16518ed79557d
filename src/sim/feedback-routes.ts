/**
 * /userfeedback/v1: CSV export, raw export, delete and send, with OX's parameter handling:
 * non-numeric start/end → 404 (framework), negative or reversed → 400 FEEDBACK-0006,
 * unknown type → 404 FEEDBACK-0003, no global DB → 500 FEEDBACK-0005, unknown group → 404.
 */
import { KNOWN_FEEDBACK_TYPES } from './feedback-fields.js';
import type { FeedbackSelection, FeedbackStore } from './feedback-store.js';
import { renderRows } from './export-rows.js';
import type { Exchange } from './http-exchange.js';
import { csvDelimiter, csvRowFormat, rawJsonRowFormat } from './ox-csv-writer.js';

export interface FeedbackWindowParams {
  /** 0 when absent. */
  start: number;
  end: number;
}

export interface FeedbackRouteContext {
  store: FeedbackStore;
  noGlobalDatabase: boolean;
  legacyDeleteProse: boolean;
}

const LONG = /^[+-]?\d{1,19}$/;

/**
 * Reads start/end like JAX-RS reads a `long` query parameter. Answers and returns undefined
 * when the request was already answered.
 */
export function readWindow(ex: Exchange): FeedbackWindowParams | undefined {
  const values: number[] = [];
  for (const name of ['start', 'end']) {
    const raw = ex.query.get(name);
    if (raw === null || raw === '') {
      values.push(0);
      continue;
    }
    if (!LONG.test(raw)) {
      // The framework rejects it before the resource runs.
      ex.empty(404);
      return undefined;
    }
    values.push(Number(raw));
  }
  const [start, end] = values as [number, number];
  const invalid: string[] = [];
  if (start < 0) invalid.push('start');
  if (end < 0) invalid.push('end');
  if (invalid.length === 0 && start > 0 && end > 0 && end < start) invalid.push('start', 'end');
  if (invalid.length > 0) {
    const names = invalid.join(', ');
    ex.oxError(400, {
      code: 'FEEDBACK-0006',
      desc: `Provided value(s) for parameter(s) '${names}' is/are invalid.`,
      params: [names],
      category: 'USER_INPUT',
    });
    return undefined;
  }
  return { start, end };
}

/** Checks type and context group; answers and returns false when they are not served. */
export function checkTarget(ex: Exchange, ctx: FeedbackRouteContext, group: string, type: string): boolean {
  if (!(KNOWN_FEEDBACK_TYPES as readonly string[]).includes(type)) {
    ex.oxError(404, { code: 'FEEDBACK-0003', desc: `Unknown feedback type: ${type}`, params: [type] });
    return false;
  }
  if (ctx.noGlobalDatabase) {
    ex.oxError(500, { code: 'FEEDBACK-0005', desc: 'No global database configured.', category: 'CONFIGURATION' });
    return false;
  }
  if (!ctx.store.hasGroup(group)) {
    ex.oxError(404, {
      code: 'FEEDBACK-0001',
      desc: `No global database for context group "${group}" found.`,
      params: [group],
    });
    return false;
  }
  return true;
}

/** OX's exclusive bounds: date > start AND date < end; 0 means open. */
export function exclusiveBounds(w: FeedbackWindowParams): { after: number; before: number } {
  return {
    after: w.start > 0 ? w.start : Number.NEGATIVE_INFINITY,
    before: w.end > 0 ? w.end : Number.POSITIVE_INFINITY,
  };
}

export function selectWindow(ctx: FeedbackRouteContext, group: string, type: string, w: FeedbackWindowParams): FeedbackSelection {
  return ctx.store.select(group, type, exclusiveBounds(w));
}

export async function exportCsv(ex: Exchange, ctx: FeedbackRouteContext, group: string, type: string): Promise<void> {
  const w = readWindow(ex);
  if (!w || !checkTarget(ex, ctx, group, type)) return;
  const selection = selectWindow(ctx, group, type, w);
  const format = csvRowFormat(csvDelimiter(ex.query.get('delimiter') ?? undefined), selection.layout);
  // `Content-Encoding: UTF-8` is what OX really sends: not a content coding, clients must ignore it.
  await ex.stream(200, { 'Content-Type': 'text/csv', 'Content-Encoding': 'UTF-8' }, renderRows(selection, format));
}

export async function exportRaw(ex: Exchange, ctx: FeedbackRouteContext, group: string, type: string): Promise<void> {
  const w = readWindow(ex);
  if (!w || !checkTarget(ex, ctx, group, type)) return;
  const selection = selectWindow(ctx, group, type, w);
  await ex.stream(200, { 'Content-Type': 'application/json' }, renderRows(selection, rawJsonRowFormat(selection.layout)));
}

export function deleteFeedback(ex: Exchange, ctx: FeedbackRouteContext, group: string, type: string): void {
  const w = readWindow(ex);
  if (!w || !checkTarget(ex, ctx, group, type)) return;
  ctx.store.delete(group, type, exclusiveBounds(w));
  if (ctx.legacyDeleteProse) {
    ex.text(
      200,
      `Feedback data deleted for type: ${type}, context group: ${group}${w.start > 0 ? `, start: ${w.start}` : ''}${w.end > 0 ? `, end: ${w.end}` : ''}.`,
      'text/plain',
    );
    return;
  }
  const answer: Record<string, unknown> = { successful: 'true', type, contextGroup: group };
  if (w.start > 0) answer.start = w.start;
  if (w.end > 0) answer.end = w.end;
  ex.json(200, answer);
}
