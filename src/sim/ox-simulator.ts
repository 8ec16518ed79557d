/**
 * An HTTP server that answers the 11 operations of the OX REST API 7.8.4 the way a real
 * OX App Suite middleware does (see /work/shared/reference/ox-server-behaviour.md), with an
 * in-memory store, deterministic synthetic data, fixtures, fault injection and a request log.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdvertisementStore } from './advertisement-store.js';
import { handleAdvertisement } from './advertisement-routes.js';
import { FaultInjector } from './fault-injector.js';
import { FeedbackStore } from './feedback-store.js';
import { deleteFeedback, exportCsv, exportRaw, type FeedbackRouteContext } from './feedback-routes.js';
import { readFixture } from './fixture.js';
import { basicCredentials, Exchange } from './http-exchange.js';
import { handlePasswdChanges } from './passwd-routes.js';
import { PasswordHistory } from './password-history.js';
import { sendFeedback } from './send-route.js';
import type {
  BasicCredential,
  FaultOptions,
  FeedbackInput,
  SimCredentials,
  SimFixture,
  SimPasswordChange,
  SimRequestRecord,
  SimulatorOptions,
  SimUser,
} from './sim-types.js';

export type {
  BasicCredential,
  FaultOptions,
  FaultScriptEntry,
  FeedbackInput,
  SimCredentials,
  SimFixture,
  SimPasswordChange,
  SimRequestRecord,
  SimulatorOptions,
  SimUser,
} from './sim-types.js';

export const REST_REALM = 'Basic realm="OX REST", encoding="UTF-8"';
export const ADMIN_REALM = 'Basic realm="OX REST"';

const DEFAULT_CREDENTIALS: Required<SimCredentials> = {
  rest: { user: 'oxadmin', password: 'secret' },
  contextAdmins: {},
  master: { user: 'oxadminmaster', password: 'master' },
};

const EXPORT_PATH = /^\/userfeedback\/v1\/export\/([^/]+)\/([^/]+)(\/raw)?$/;
const SEND_PATH = /^\/userfeedback\/v1\/send\/([^/]+)\/([^/]+)$/;
const DELETE_PATH = /^\/userfeedback\/v1\/([^/]+)\/([^/]+)$/;
/** The `login-page` fault: what an SSO proxy in front of OX answers once its session ran out. */
const LOGIN_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>\n' +
  '<form method="post" action="/login"><input name="username"><input name="password" type="password">' +
  '<button>Sign in</button></form>\n</body></html>\n';

export class OxSimulator {
  readonly url: string;
  private readonly feedback = new FeedbackStore();
  private readonly ads: AdvertisementStore;
  private readonly passwd: PasswordHistory;
  private readonly faults: FaultInjector;
  private credentials: Required<SimCredentials>;
  private readonly log: SimRequestRecord[] = [];

  private constructor(
    private readonly server: Server,
    private readonly options: SimulatorOptions,
  ) {
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `http://${host}:${address.port}`;
    this.credentials = { ...DEFAULT_CREDENTIALS };
    if (options.credentials) this.setCredentials(options.credentials);
    this.passwd = new PasswordHistory(options.historySize ?? 10);
    this.ads = new AdvertisementStore(this.passwd);
    this.faults = new FaultInjector(options.faults);
    for (const group of options.contextGroups ?? []) this.feedback.addGroup(group);
    if (options.fixture !== undefined) this.loadFixture(options.fixture);
  }

  static async start(options: SimulatorOptions = {}): Promise<OxSimulator> {
    let simulator: OxSimulator | undefined;
    const server = createServer((req, res) => {
      // Last resort: a failure while answering must never become an unhandled rejection.
      simulator?.handle(req, res).catch(() => res.destroy());
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    try {
      simulator = new OxSimulator(server, options);
    } catch (err) {
      await new Promise((r) => server.close(r));
      throw err;
    }
    return simulator;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---- data ---------------------------------------------------------------------------------

  addFeedback(rows: FeedbackInput[]): void {
    this.feedback.add(rows);
  }

  /** Adds `rows` synthetic rows spread over [from, to), computed from (seed, index): O(1) memory. */
  generateFeedback(o: { rows: number; from: number; to: number; seed?: number; contextGroup?: string; type?: string }): void {
    this.feedback.generate({ ...o, seed: o.seed ?? 1 });
  }

  /** Rows with start <= date < end (half-open; both optional). */
  feedbackCount(o?: { contextGroup?: string; type?: string; start?: number; end?: number }): number {
    return this.feedback.count(o);
  }

  addUser(u: SimUser): void {
    this.passwd.addUser(u);
  }

  addPasswordChange(c: SimPasswordChange): void {
    this.passwd.addChange(c);
  }

  generatePasswordHistories(o: { contexts: number; usersPerContext: number; from: number; to: number; seed?: number }): void {
    this.passwd.generate({ ...o, seed: o.seed ?? 1 });
  }

  loadFixture(f: string | SimFixture): void {
    const fixture = readFixture(f);
    if (fixture.credentials) this.setCredentials(fixture.credentials);
    for (const u of fixture.users ?? []) this.addUser(u);
    if (fixture.feedback) this.addFeedback(fixture.feedback);
    for (const c of fixture.passwordChanges ?? []) this.addPasswordChange(c);
    if (fixture.adConfigs) this.ads.load(fixture.adConfigs);
  }

  /** What advertisement configs are stored: keys "ctx/user" and "reseller/package". */
  adConfigs(): { users: Record<string, unknown>; packages: Record<string, unknown> } {
    return this.ads.snapshot();
  }

  /** The user's own config, else that of the given (reseller, package); as OX resolves it. */
  effectiveAdConfig(o: { contextId: number; userId: number; reseller?: string; package?: string }): unknown {
    const fallback =
      o.reseller !== undefined || o.package !== undefined ? { reseller: o.reseller ?? '', package: o.package ?? '' } : undefined;
    return this.ads.effective(o.contextId, o.userId, fallback);
  }

  /** Replaces the given credential families; omitted ones stay. */
  setCredentials(c: SimCredentials): void {
    this.credentials = {
      rest: c.rest !== undefined ? c.rest : this.credentials.rest,
      contextAdmins: c.contextAdmins !== undefined ? { ...c.contextAdmins } : this.credentials.contextAdmins,
      master: c.master !== undefined ? c.master : this.credentials.master,
    };
  }

  setFaults(f: FaultOptions | undefined): void {
    this.faults.set(f);
  }

  /** Every request in arrival order (status 0 until answered). */
  get requests(): ReadonlyArray<SimRequestRecord> {
    return this.log;
  }

  resetRequests(): void {
    this.log.length = 0;
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const record: SimRequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
    };
    const authUser = basicCredentials(req)?.user;
    if (authUser !== undefined) record.authUser = authUser;
    this.log.push(record);
    const limit = this.options.requestLogLimit ?? 100_000;
    // Trim in batches: one splice per ~10% of the limit, not one per request.
    if (this.log.length > limit + Math.ceil(limit / 10)) this.log.splice(0, this.log.length - limit);
    const ex = new Exchange(req, res, record, url);
    try {
      const fault = this.faults.decide(url.pathname, record.method);
      if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
      ex.exportFaults = fault.exportFaults;
      if (fault.action.kind === 'status') {
        const headers: Record<string, string> = {};
        if (fault.action.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.action.retryAfterSeconds);
        ex.empty(fault.action.status, headers);
        return;
      }
      if (fault.action.kind === 'login-page') {
        ex.text(200, LOGIN_PAGE, 'text/html; charset=utf-8');
        return;
      }
      if (fault.action.kind === 'drop' && !EXPORT_PATH.test(stripSlash(url.pathname))) {
        // 'drop-mid-body' drops other requests before any answer; `{ dropAfterBytes }` cuts their answer.
        if (fault.action.afterBytes === undefined) {
          req.socket.destroy();
          return;
        }
        ex.cutAnswerAfterBytes = fault.action.afterBytes;
      }
      await this.route(ex);
    } catch (err) {
      if (!res.headersSent) ex.empty(500, {}, err instanceof Error ? err.message : 'simulator failure');
      else res.destroy();
    }
  }

  private async route(ex: Exchange): Promise<void> {
    const path = stripSlash(ex.path);
    if (path.startsWith('/userfeedback/')) {
      if (!this.restAuthorised(ex)) return;
      return this.routeFeedback(ex, path);
    }
    if (path.startsWith('/advertisement/')) {
      if (!this.restAuthorised(ex)) return;
      return handleAdvertisement(ex, path, this.ads);
    }
    if (path.startsWith('/admin/v1/contexts/')) {
      return handlePasswdChanges(ex, path, {
        history: this.passwd,
        disabled: this.options.passwdChangesDisabled ?? false,
        authorised: (contextId) => this.adminAuthorised(ex, contextId),
      });
    }
    ex.empty(404);
  }

  private async routeFeedback(ex: Exchange, path: string): Promise<void> {
    const ctx: FeedbackRouteContext = {
      store: this.feedback,
      noGlobalDatabase: this.options.noGlobalDatabase ?? false,
      legacyDeleteProse: this.options.legacy?.deleteProse ?? false,
    };
    let m = EXPORT_PATH.exec(path);
    if (m) {
      if (ex.method !== 'GET') return ex.empty(405, { Allow: 'GET' });
      const [group, type] = [decode(m[1]!), decode(m[2]!)];
      return m[3] ? exportRaw(ex, ctx, group, type) : exportCsv(ex, ctx, group, type);
    }
    m = SEND_PATH.exec(path);
    if (m) {
      if (ex.method !== 'POST') return ex.empty(405, { Allow: 'POST' });
      return sendFeedback(ex, ctx, decode(m[1]!), decode(m[2]!), {
        smtpUrl: this.options.smtpUrl,
        mailFrom: this.options.mailFrom ?? 'OX App Suite <userfeedback@ox-sim.invalid>',
        pgpSigning: this.options.pgpSigning ?? false,
        legacyProse: this.options.legacy?.sendProse ?? false,
      });
    }
    m = DELETE_PATH.exec(path);
    if (m) {
      if (ex.method !== 'DELETE') return ex.empty(405, { Allow: 'DELETE' });
      return deleteFeedback(ex, ctx, decode(m[1]!), decode(m[2]!));
    }
    ex.empty(404);
  }

  /** /userfeedback and /advertisement: 403 without configured REST credentials, 401 on mismatch. */
  private restAuthorised(ex: Exchange): boolean {
    const expected = this.credentials.rest;
    if (!expected) {
      ex.empty(403);
      return false;
    }
    if (!matches(basicCredentials(ex.req), expected)) {
      ex.empty(401, { 'WWW-Authenticate': REST_REALM });
      return false;
    }
    return true;
  }

  /** passwd-changes: the context's admin, or the master admin when the override is enabled. */
  private adminAuthorised(ex: Exchange, contextId: number): boolean {
    const given = basicCredentials(ex.req);
    const admin = this.credentials.contextAdmins[String(contextId)];
    if (matches(given, admin) || matches(given, this.credentials.master ?? undefined)) return true;
    ex.empty(401, { 'WWW-Authenticate': ADMIN_REALM });
    return false;
  }
}

function matches(given: BasicCredential | undefined, expected: BasicCredential | undefined): boolean {
  return !!given && !!expected && given.user === expected.user && given.password === expected.password;
}

function stripSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
