/**
 * Decides, per request, which injected fault (if any) it gets: latency, a scripted answer,
 * a random error share, a dropped or throttled export body.
 */
import type { ExportFaults } from './http-exchange.js';
import { createRandom } from './prng.js';
import type { FaultOptions, FaultScriptEntry } from './sim-types.js';

export type FaultAction =
  | { kind: 'none' }
  | { kind: 'status'; status: number; retryAfterSeconds?: number }
  | { kind: 'drop'; afterBytes?: number }
  | { kind: 'login-page' };

export interface FaultDecision {
  latencyMs: number;
  action: FaultAction;
  exportFaults: ExportFaults;
}

/** Default cut point of a scripted 'drop-mid-body' when `dropExportAfterBytes` is not set. */
const DEFAULT_DROP_AFTER_BYTES = 1024;

export class FaultInjector {
  private faults: FaultOptions | undefined;
  private script: FaultScriptEntry[] = [];
  private random: () => number = Math.random;

  constructor(faults?: FaultOptions) {
    this.set(faults);
  }

  set(faults: FaultOptions | undefined): void {
    if (faults) validateFaults(faults);
    this.faults = faults;
    this.script = [...(faults?.script ?? [])];
    this.random = createRandom(faults?.seed ?? 1);
  }

  decide(path: string, method = 'GET'): FaultDecision {
    const f = this.faults;
    const none: FaultDecision = { latencyMs: 0, action: { kind: 'none' }, exportFaults: {} };
    if (!f || (f.pathPrefix !== undefined && !path.startsWith(f.pathPrefix))) return none;
    if (f.method !== undefined && f.method.toUpperCase() !== method.toUpperCase()) return none;
    const decision: FaultDecision = {
      latencyMs: f.latencyMs ?? 0,
      action: { kind: 'none' },
      exportFaults: { dropAfterBytes: f.dropExportAfterBytes, bytesPerSecond: f.slowBodyBytesPerSecond },
    };
    const scripted = this.script.shift();
    if (scripted !== undefined) {
      if (scripted === 'login-page') {
        decision.action = { kind: 'login-page' };
      } else if (scripted === 'drop-mid-body') {
        decision.action = { kind: 'drop' };
        decision.exportFaults.dropAfterBytes = f.dropExportAfterBytes ?? DEFAULT_DROP_AFTER_BYTES;
      } else if (typeof scripted === 'number') {
        decision.action = { kind: 'status', status: scripted, retryAfterSeconds: retryAfterFor(scripted, f.retryAfterSeconds) };
      } else if (typeof scripted === 'object' && 'dropAfterBytes' in scripted) {
        decision.action = { kind: 'drop', afterBytes: scripted.dropAfterBytes };
        decision.exportFaults.dropAfterBytes = scripted.dropAfterBytes;
      } else if (typeof scripted === 'object') {
        decision.action = {
          kind: 'status',
          status: scripted.status,
          retryAfterSeconds: scripted.retryAfterSeconds ?? retryAfterFor(scripted.status, f.retryAfterSeconds),
        };
      }
      return decision; // 'ok' and every scripted entry replace the random share for this request
    }
    if (f.loginPage) {
      decision.action = { kind: 'login-page' };
      return decision;
    }
    if (f.errorRate && f.errorRate > 0 && this.random() < f.errorRate) {
      const status = f.errorStatus ?? 503;
      decision.action = { kind: 'status', status, retryAfterSeconds: retryAfterFor(status, f.retryAfterSeconds) };
    }
    return decision;
  }

  /** Scripted entries not yet consumed. */
  get pendingScript(): number {
    return this.script.length;
  }
}

function retryAfterFor(status: number, seconds: number | undefined): number | undefined {
  return status === 429 || status === 503 ? seconds : undefined;
}

function validateFaults(f: FaultOptions): void {
  if (f.errorRate !== undefined && !(f.errorRate >= 0 && f.errorRate <= 1))
    throw new RangeError(`faults.errorRate must be within 0..1, got ${f.errorRate}`);
  for (const key of ['latencyMs', 'dropExportAfterBytes', 'slowBodyBytesPerSecond', 'retryAfterSeconds'] as const) {
    const v = f[key];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`faults.${key} must be a number >= 0, got ${v}`);
  }
}
