/**
 * The daemon's HTTP port: `/healthz` (the process is alive), `/readyz` (Redis reachable and the
 * workers running: take the pod out of rotation otherwise), `/metrics` (Prometheus text), and
 * whatever `mountDashboard` adds (Bull Board under /ui).
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import type { Logger } from '../log/logger.js';
import type { Metrics } from './metrics.js';

export interface ReadinessCheck {
  ready: boolean;
  checks: Record<string, boolean | string>;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  readiness: () => Promise<ReadinessCheck>;
  log: Logger;
  /** Adds routes (the dashboard) before the 404 handler. */
  mountDashboard?: (app: Express) => void;
}

export interface RunningHttpServer {
  readonly url: string;
  readonly port: number;
  readonly app: Express;
  close(): Promise<void>;
}

export function createHttpApp(options: Omit<HttpServerOptions, 'host' | 'port'>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', async (_req, res) => {
    let result: ReadinessCheck;
    try {
      result = await options.readiness();
    } catch (err) {
      result = { ready: false, checks: { error: (err as Error).message } };
    }
    res.status(result.ready ? 200 : 503).json(result);
  });
  app.get('/metrics', async (_req, res) => {
    try {
      const text = await options.metrics.text();
      res.type(options.metrics.contentType).send(text);
    } catch (err) {
      options.log.warn({ err }, 'metrics collection failed');
      res.status(500).type('text/plain').send('metrics collection failed\n');
    }
  });
  options.mountDashboard?.(app);
  return app;
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const app = createHttpApp(options);
  const server: Server = app.listen(options.port, options.host);
  await once(server, 'listening');
  // After listen an 'error' (e.g. accept failing on EMFILE) would otherwise end the daemon.
  server.on('error', (err) => options.log.error({ err }, 'http server error'));
  // Scrapes and probes are short; do not let an idle keep-alive socket delay shutdown.
  server.keepAliveTimeout = 5_000;
  const port = (server.address() as AddressInfo).port;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const url = `http://${shownHost}:${port}`;
  options.log.info({ url }, 'http server listening (/healthz /readyz /metrics)');
  return {
    url,
    port,
    app,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
