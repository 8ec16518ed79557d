/**
 * The operator dashboard: Bull Board under `/ui` on the daemon's HTTP port, showing every queue
 * and job scheduler of this deployment.
 *
 * It is never reachable without HTTP Basic auth. Without both `ui.user` and `ui.password` it is
 * switched off (404 with a message saying how to switch it on), because the daemon's port is
 * usually open to the cluster for /metrics and a queue browser shows job data. It is read-only
 * unless `ui.allowActions` is true, and even then its actions are an allow-list: retry a failed
 * job, promote a delayed one, remove one job. Nothing the worker runs may come from a browser, so
 * adding a job, editing job data, delay or priority, cleaning, emptying or obliterating a queue,
 * pausing and changing the job schedulers are refused (the config and the CLI do those). Every
 * change also needs same-origin proof (same-origin.ts), not only the Basic auth credentials.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { SAME_ORIGIN_SCRIPT, SAME_ORIGIN_SCRIPT_PATH, injectSameOriginHead, requireSameOrigin, sameOriginToken } from './same-origin.js';

export const DASHBOARD_PATH = '/ui';
export const DASHBOARD_REALM = 'ox-batch dashboard';

/** `config.ui`; both credentials must be set for the dashboard to be served. */
export type DashboardSettings = Pick<Partial<Config['ui']>, 'user' | 'password'> & Pick<Config['ui'], 'allowActions'>;
type BoardServerAdapter = Parameters<typeof createBullBoard>[0]['serverAdapter'];

export interface DashboardOptions {
  /** Where the router is mounted; Bull Board needs it for its asset and API URLs. */
  basePath?: string;
  log?: Logger;
  /** Shown in the board's header, e.g. the Redis prefix of this deployment. */
  title?: string;
}

/** Both credentials present: the only state in which the dashboard is served. */
export function dashboardEnabled(ui: DashboardSettings): boolean {
  return Boolean(ui.user && ui.password);
}

/**
 * An express router serving Bull Board for `queues`, to be mounted at `options.basePath`
 * (default `/ui`): `app.use('/ui', createDashboardRouter(queues, config.ui))`.
 */
export function createDashboardRouter(queues: ReadonlyArray<Queue>, ui: DashboardSettings, options: DashboardOptions = {}): Router {
  const router = express.Router();
  if (!dashboardEnabled(ui)) {
    router.use((_req, res) => {
      res
        .status(404)
        .type('text/plain')
        .send(
          'ox-batch dashboard is disabled: no credentials are configured. ' +
            'Set ui.user and ui.password (env UI_USER and UI_PASSWORD or UI_PASSWORD_FILE) to enable it.\n',
        );
    });
    return router;
  }

  const basePath = options.basePath ?? DASHBOARD_PATH;
  const token = sameOriginToken(ui.user!, ui.password!);
  router.use(dashboardAuth(ui, options.log));
  router.use(pageHeaders);
  router.get(SAME_ORIGIN_SCRIPT_PATH, (_req, res) => {
    res.type('application/javascript').send(SAME_ORIGIN_SCRIPT);
  });
  if (!ui.allowActions) router.use(refuseChanges);
  router.use(requireSameOrigin(token));
  router.use(allowListedActions(queues));
  router.use(injectSameOriginHead(token, `${basePath}${SAME_ORIGIN_SCRIPT_PATH}`));

  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: queues.map((queue) => {
      const adapter = new BullMQAdapter(queue, {
        readOnlyMode: !ui.allowActions,
        allowRetries: ui.allowActions,
        displayName: queue.name,
      });
      // A completed job's window is done: re-running it is a forced run, which is the CLI's. (The
      // constructor reads allowCompletedRetries, its options type does not list it.)
      Object.assign(adapter, { allowCompletedRetries: false });
      return adapter;
    }),
    serverAdapter: serverAdapter as unknown as BoardServerAdapter,
    options: {
      uiConfig: {
        boardTitle: options.title ?? 'ox-batch',
        hideDocsLink: true,
        sortQueues: true,
      },
    },
  });
  router.use(serverAdapter.getRouter() as Router);
  return router;
}

/** Mounts the dashboard on the daemon's express app under `/ui` (what http-server's hook calls). */
export function mountDashboard(app: Express, queues: ReadonlyArray<Queue>, ui: DashboardSettings, options: DashboardOptions = {}): void {
  const basePath = options.basePath ?? DASHBOARD_PATH;
  app.use(basePath, createDashboardRouter(queues, ui, { ...options, basePath }));
  if (dashboardEnabled(ui)) {
    options.log?.info({ path: basePath, allowActions: ui.allowActions }, 'dashboard enabled (HTTP Basic auth)');
  } else {
    options.log?.info({ path: basePath }, 'dashboard disabled: ui.user / ui.password not set');
  }
}

/** Caching off, framing off: every page and answer of the dashboard and the window grid. */
export function pageHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  next();
}

/** HTTP Basic auth with `ui.user` / `ui.password` (both must be set: see dashboardEnabled). */
export function dashboardAuth(ui: DashboardSettings, log?: Logger) {
  return basicAuth(ui.user!, ui.password!, log);
}

function basicAuth(user: string, password: string, log?: Logger) {
  // Compare digests so neither the length nor a common prefix of the secret leaks through timing.
  const expected = digest(`${user}:${password}`);
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = credentialsOf(req.headers.authorization);
    if (given !== undefined && timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    if (given !== undefined) log?.warn({ remote: req.ip, path: req.originalUrl }, 'dashboard: wrong credentials');
    res.setHeader('WWW-Authenticate', `Basic realm="${DASHBOARD_REALM}", charset="UTF-8"`);
    res.status(401).type('text/plain').send('ox-batch dashboard: authentication required (HTTP Basic, ui.user / ui.password).\n');
  };
}

function credentialsOf(header: string | undefined): string | undefined {
  const match = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!match) return undefined;
  return Buffer.from(match[1]!, 'base64').toString('utf8');
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The Bull Board calls allowed with `ui.allowActions` (paths below the mount point). Retrying is
 * for failed jobs only: a completed job's window is done, and running it again is a forced run.
 */
const ALLOWED_ACTIONS: ReadonlyArray<{ method: string; path: RegExp; what: string; failedJobOnly?: boolean }> = [
  { method: 'PUT', path: /^\/api\/queues\/([^/]+)\/([^/]+)\/retry$/, what: 'retry a failed job', failedJobOnly: true },
  { method: 'PUT', path: /^\/api\/queues\/([^/]+)\/retry\/failed$/, what: 'retry the failed jobs of a queue' },
  { method: 'PUT', path: /^\/api\/queues\/([^/]+)\/([^/]+)\/promote$/, what: 'promote a delayed job' },
  { method: 'PUT', path: /^\/api\/queues\/([^/]+)\/promote$/, what: 'promote the delayed jobs of a queue' },
  { method: 'PUT', path: /^\/api\/queues\/([^/]+)\/([^/]+)\/clean$/, what: 'remove a job' },
];

const ALLOWED_SUMMARY = 'retry failed jobs, promote delayed jobs, remove single jobs';

function refuseAction(res: Response, method: string, path: string, why: string): void {
  res.status(403).json({
    error: `ox-batch dashboard: ${method} ${path} refused: ${why}. Allowed: ${ALLOWED_SUMMARY}; jobs and schedules come from the config and the ox-batch CLI`,
  });
}

/** Every changing request must match ALLOWED_ACTIONS; refused ones change nothing. */
function allowListedActions(queues: ReadonlyArray<Queue>) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      next();
      return;
    }
    const rule = ALLOWED_ACTIONS.find((r) => r.method === req.method && r.path.test(req.path));
    if (!rule) {
      refuseAction(res, req.method, req.path, 'not an allowed dashboard action');
      return;
    }
    const [, queueName, jobId] = rule.path.exec(req.path)!;
    const queue = queues.find((q) => q.name === decodeURIComponent(queueName!));
    if (!queue) {
      refuseAction(res, req.method, req.path, 'no such queue');
      return;
    }
    if (rule.failedJobOnly) {
      try {
        const job = await queue.getJob(decodeURIComponent(jobId!));
        const state = job ? await job.getState() : 'missing';
        if (state !== 'failed') {
          refuseAction(
            res,
            req.method,
            req.path,
            `only a failed job can be retried from here (this one is ${state}; a done window runs again only with ox-batch enqueue --force)`,
          );
          return;
        }
      } catch (err) {
        next(err);
        return;
      }
    }
    next();
  };
}

/** Bull Board reads with GET only; anything else changes a queue. */
function refuseChanges(req: Request, res: Response, next: NextFunction): void {
  if (req.method === 'GET' || req.method === 'HEAD') {
    next();
    return;
  }
  res.status(403).json({
    error: 'ox-batch dashboard is read-only: set ui.allowActions: true to retry, promote or remove jobs from it',
  });
}
