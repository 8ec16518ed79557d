/**
 * The operator dashboard: Bull Board under `/ui` on the daemon's HTTP port, showing every queue
 * and job scheduler of this deployment.
 *
 * It is never reachable without HTTP Basic auth. Without both `ui.user` and `ui.password` it is
 * switched off (404 with a message saying how to switch it on), because the daemon's port is
 * usually open to the cluster for /metrics and a queue browser shows job data. It is read-only
 * unless `ui.allowActions` is true: a retry or removal from a browser bypasses the ledger's view of
 * a window, so that power has to be granted on purpose.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';

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
      res.status(404).type('text/plain').send(
        'ox-batch dashboard is disabled: no credentials are configured. ' +
        'Set ui.user and ui.password (env UI_USER and UI_PASSWORD or UI_PASSWORD_FILE) to enable it.\n',
      );
    });
    return router;
  }

  router.use(basicAuth(ui.user!, ui.password!, options.log));
  if (!ui.allowActions) router.use(refuseChanges);
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Frame-Options', 'DENY');
    next();
  });

  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(options.basePath ?? DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, {
      readOnlyMode: !ui.allowActions,
      allowRetries: ui.allowActions,
      displayName: queue.name,
    })),
    // @bull-board/express pins a patch release of @bull-board/api older than ours; the adapter
    // interface is the same, only the nominal types differ.
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
