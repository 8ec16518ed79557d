/**
 * The window grid: `/ui/windows` (HTML) and the JSON API behind it, `/api/schedules…`, on the
 * daemon's port behind the dashboard's Basic auth (off, like the dashboard, without ui.user and
 * ui.password). GET requests only read; the two actions (backfill a range, retry a failed window)
 * need `ui.allowActions` and same-origin proof, and take the path `ox-batch backfill` takes.
 *
 *   GET  /api/schedules                              every schedule: status, purge markers
 *   GET  /api/schedules/:id/windows?from&to          cells of a windowed schedule (default: 30 days)
 *   GET  /api/schedules/:id/windows/:start           one window opened (:start ISO or epoch ms)
 *   GET  /api/schedules/:id/runs                     last runs of a non-windowed schedule
 *   POST /api/schedules/:id/backfill   {from, to}    queue the windows of a range (like backfill)
 *   POST /api/schedules/:id/windows/:start/retry     queue a failed window again
 */
import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import { InputError, RefusedError, isInputError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { parseInstant } from '../time/parse-time.js';
import {
  backfillRange,
  retryWindow,
  scheduleCells,
  scheduleRuns,
  scheduleSummaries,
  windowDetail,
  type WindowViewDeps,
} from '../queue/window-view.js';
import { DASHBOARD_PATH, dashboardAuth, dashboardEnabled, pageHeaders, type DashboardSettings } from './dashboard.js';
import { SAME_ORIGIN_SCRIPT, requireSameOrigin, sameOriginToken } from './same-origin.js';
import { GRID_SCRIPT, renderGridPage } from './window-grid-page.js';

export const GRID_PATH = `${DASHBOARD_PATH}/windows`;
export const API_PATH = '/api/schedules';
const DAY_MS = 86_400_000;
export const DEFAULT_RANGE_MS = 30 * DAY_MS;

type Handler = (req: Request, res: Response) => Promise<void>;

/** Input errors and refusals answer 4xx with their one line; anything else is logged, 500. */
function handle(log: Logger | undefined, fn: Handler) {
  return (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch((err: unknown) => {
      if (isInputError(err)) {
        res.status(err instanceof RefusedError ? 409 : 400).json({ error: err.message });
        return;
      }
      log?.error({ err, path: req.path }, 'window grid request failed');
      if (!res.headersSent) res.status(500).json({ error: 'internal error (see the daemon log)' });
      else next(err);
    });
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : typeof value === 'number' ? String(value) : undefined;
}

/** `from` / `to` of a request (query or body), in the configured zone; default the last 30 days. */
export function rangeOf(source: Record<string, unknown>, zone: string, now: number): { from: number; to: number } {
  const toText = text(source.to);
  const fromText = text(source.from);
  const to = toText === undefined ? now : parseInstant(toText, zone, 'to');
  const from = fromText === undefined ? to - DEFAULT_RANGE_MS : parseInstant(fromText, zone, 'from');
  if (!(to > from)) throw new InputError(`to ${toText ?? 'now'} is not after from ${fromText ?? '30 days before it'}`);
  return { from, to };
}

function startOf(req: Request, zone: string): number {
  return parseInstant(String(req.params.start), zone, 'window start');
}

export function createWindowApiRouter(deps: WindowViewDeps, ui: DashboardSettings, log?: Logger): Router {
  const router = express.Router();
  const zone = deps.config.timezone;
  router.use(express.json({ limit: '16kb' }));
  router.use(express.urlencoded({ extended: false, limit: '16kb' }));
  router.get(
    '/',
    handle(log, async (_req, res) => {
      res.json({ now: deps.now(), schedules: await scheduleSummaries(deps) });
    }),
  );
  router.get(
    '/:id/windows',
    handle(log, async (req, res) => {
      const range = rangeOf(req.query as Record<string, unknown>, zone, deps.now());
      res.json({ scheduleId: req.params.id, ...range, cells: await scheduleCells(deps, String(req.params.id), range) });
    }),
  );
  router.get(
    '/:id/windows/:start',
    handle(log, async (req, res) => {
      res.json(await windowDetail(deps, String(req.params.id), startOf(req, zone)));
    }),
  );
  router.get(
    '/:id/runs',
    handle(log, async (req, res) => {
      res.json({ scheduleId: req.params.id, runs: await scheduleRuns(deps, String(req.params.id)) });
    }),
  );
  router.post(
    '/:id/backfill',
    handle(log, async (req, res) => {
      if (!ui.allowActions) return refuseReadOnly(res);
      const result = await backfillRange(
        deps,
        String(req.params.id),
        rangeOf((req.body ?? {}) as Record<string, unknown>, zone, deps.now()),
      );
      log?.info({ schedule: req.params.id, counts: result.counts, remote: req.ip }, 'window grid: backfill');
      res.json(result);
    }),
  );
  router.post(
    '/:id/windows/:start/retry',
    handle(log, async (req, res) => {
      if (!ui.allowActions) return refuseReadOnly(res);
      const result = await retryWindow(deps, String(req.params.id), startOf(req, zone));
      log?.info({ schedule: req.params.id, counts: result.counts, remote: req.ip }, 'window grid: retry');
      res.json(result);
    }),
  );
  router.use((req, res) => {
    res.status(req.method === 'GET' ? 404 : 405).json({ error: `no ${req.method} ${API_PATH}${req.path}` });
  });
  return router;
}

async function refuseReadOnly(res: Response): Promise<void> {
  res.status(403).json({ error: 'ox-batch window grid is read-only: set ui.allowActions: true to backfill or retry windows from it' });
}

export function createGridPageRouter(deps: WindowViewDeps, ui: DashboardSettings, log?: Logger): Router {
  const router = express.Router();
  const token = sameOriginToken(ui.user!, ui.password!);
  router.get('/grid.js', (_req, res) => {
    res.type('application/javascript').send(GRID_SCRIPT);
  });
  router.get('/same-origin.js', (_req, res) => {
    res.type('application/javascript').send(SAME_ORIGIN_SCRIPT);
  });
  router.get(
    '/',
    handle(log, async (req, res) => {
      const started = Date.now();
      const now = deps.now();
      const range = rangeOf(req.query as Record<string, unknown>, deps.config.timezone, now);
      const summaries = await scheduleSummaries(deps);
      const rows = await Promise.all(
        summaries.map(async (summary) =>
          summary.windowed
            ? { summary, cells: await scheduleCells(deps, summary.id, range) }
            : { summary, runs: await scheduleRuns(deps, summary.id, 30) },
        ),
      );
      res.type('html').send(
        renderGridPage({
          rows,
          range,
          now,
          zone: deps.config.timezone,
          allowActions: ui.allowActions,
          token,
          basePath: GRID_PATH,
          apiPath: API_PATH,
          renderMs: Date.now() - started,
        }),
      );
    }),
  );
  return router;
}

/** Mounts `/ui/windows` and `/api/schedules` (call before the dashboard, which owns the rest of /ui). */
export function mountWindowGrid(app: Express, deps: WindowViewDeps, ui: DashboardSettings, options: { log?: Logger } = {}): void {
  if (!dashboardEnabled(ui)) {
    const off = (_req: Request, res: Response) => {
      res
        .status(404)
        .type('text/plain')
        .send(
          'ox-batch window grid is disabled: no credentials are configured. Set ui.user and ui.password (env UI_USER and UI_PASSWORD or UI_PASSWORD_FILE) to enable it.\n',
        );
    };
    app.use(GRID_PATH, off);
    app.use(API_PATH, off);
    return;
  }
  const guard = [dashboardAuth(ui, options.log), pageHeaders, requireSameOrigin(sameOriginToken(ui.user!, ui.password!))];
  app.use(GRID_PATH, ...guard, createGridPageRouter(deps, ui, options.log));
  app.use(API_PATH, ...guard, createWindowApiRouter(deps, ui, options.log));
}
