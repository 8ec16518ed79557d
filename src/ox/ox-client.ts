import { STATUS_CODES } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Pool } from './undici-pool.js';
import type { Logger } from 'pino';
import type { OxConfig } from '../config/schema.js';
import { InputError, OxBatchError } from '../errors.js';
import { safeUrl } from '../log/secrets.js';
import { oxWindowParams } from './feedback-window.js';
import { JsonArrayFormatError, parseJsonArray } from './json-array-stream.js';
import { adOutcome, parseDeleteAnswer, parseResellerAnswer, parseSendAnswer } from './ox-answers.js';
import { OxError, type OxErrorKind } from './ox-error.js';
import { abortedError, parseRetryAfter, withRetries, type RetryPolicy } from './retry.js';
import type {
  AdWriteOutcome,
  CallOptions,
  DeleteResult,
  FeedbackQuery,
  OxApi,
  OxRequestObserver,
  PasswordChange,
  RawFeedbackRecord,
  ResellerEntryResult,
  ResellerPackageConfig,
  Retried,
  SendRequest,
  SendResult,
} from './types.js';

/** A 200 from send can still hold failed recipients: these make them easy to see. */
export { sendFailures, sentRecipients } from './ox-answers.js';

export interface OxClientOptions {
  observer?: OxRequestObserver;
  log?: Logger;
  /** Tests pin the jitter; production leaves Math.random. */
  random?: () => number;
}

interface Credentials {
  user: string;
  password: string;
  /** Config key(s) a person fixes when OX rejects these: named in 401 messages, never the value. */
  source: string;
}

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/**
 * `idempotent`: every transient failure is retried. `unsent-only` (send mails people): retried
 * only when the request provably never reached OX — connection refused, connect timeout, 503.
 */
type RetryMode = 'idempotent' | 'unsent-only';

interface RequestSpec {
  operation: string;
  method: Method;
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: string;
  credentials: Credentials | undefined;
  /** Which family of endpoints: decides what a 401/403/404 means to an operator. */
  family: 'rest' | 'admin';
  signal?: AbortSignal;
  retry: RetryMode;
  /** Statuses that are answers, not errors. */
  ok: readonly number[];
}

/** A request that may be repeated from the beginning when its answer breaks off: never `send`. */
type ReadSpec = RequestSpec & { method: 'GET'; retry: 'idempotent' };

const DEFAULT_GROUP = 'default';
const DEFAULT_TYPE = 'star-rating-v1';
const ERROR_BODY_LIMIT = 64 * 1024;
const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);
/** Failures where the request bytes cannot have reached the server. */
const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * The OX REST client: one typed method per operation of the 7.8.4 API, over a keep-alive undici
 * pool. Windows are half-open at this API and translated to OX's exclusive bounds. Transient
 * failures are retried (full-jitter backoff, Retry-After honoured); every failure is an OxError.
 */
/**
 * Body bytes buffered ahead of the reader (undici's default is 64 KiB). An export streams
 * hundreds of MB into a spool whose writes go through the thread pool; with 64 KiB the socket
 * was paused between every few chunks: 2.4 s of system time for a 326 MB export, measured
 * 0.6-0.7 s with 1 MiB and 0.35-0.45 s with 256 KiB (and less memory), the same for any window.
 */
const BODY_BUFFER_BYTES = 256 * 1024;

export class OxClient implements OxApi {
  readonly baseUrl: string;
  readonly #pool: Pool;
  readonly #basePath: string;
  readonly #config: OxConfig;
  readonly #rest: Credentials | undefined;
  readonly #policy: RetryPolicy;
  readonly #observer?: OxRequestObserver;
  readonly #log?: Logger;
  readonly #random?: () => number;

  constructor(config: OxConfig, options: OxClientOptions = {}) {
    const url = new URL(config.url);
    this.#config = config;
    this.#observer = options.observer;
    this.#log = options.log;
    this.#random = options.random;
    this.#rest =
      config.user && config.password
        ? { user: config.user, password: config.password, source: 'ox.user / ox.password (OX_USER / OX_PASSWORD)' }
        : url.username
          ? { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), source: 'the user info of ox.url' }
          : undefined;
    this.baseUrl = safeUrl(`${url.origin}${url.pathname}`).replace(/\/+$/, '');
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#policy = {
      attempts: config.retry.attempts,
      baseDelayMs: config.retry.baseDelayMs,
      maxDelayMs: config.retry.maxDelayMs,
      maxRetryAfterMs: config.retry.maxRetryAfterMs,
    };
    this.#pool = new Pool(url.origin, {
      connections: config.pool.connections,
      keepAliveTimeout: config.pool.keepAliveMs,
      connectTimeout: config.timeouts.connectMs,
      headersTimeout: config.timeouts.headersMs,
      bodyTimeout: config.timeouts.bodyMs,
    });
  }

  // ---- user feedback -------------------------------------------------------------------------

  async exportCsv(query: FeedbackQuery & { delimiter?: string }): Promise<Readable> {
    const spec = this.#csvSpec(query);
    const response = await this.#call(spec);
    // OX labels the CSV `Content-Encoding: UTF-8`, which is no content coding at all; undici's
    // request() never decodes, so the bytes (BOM, quotes, lone-CR rows) pass through untouched.
    return this.#bodyStream(spec.operation, response.body, query.signal);
  }

  exportRaw(query: FeedbackQuery): AsyncIterable<RawFeedbackRecord> {
    const spec = this.#rawSpec(query); // bad windows fail at the call, not at the first next()
    const client = this;
    return {
      async *[Symbol.asyncIterator]() {
        const response = await client.#call(spec);
        yield* client.#rawRecords(spec.operation, response.body, query.signal);
      },
    };
  }

  async readExportCsv<T>(query: FeedbackQuery & { delimiter?: string }, consume: (body: Readable) => Promise<T>): Promise<Retried<T>> {
    return this.#readStream(this.#csvSpec(query), consume);
  }

  /** The raw export's bytes, unparsed (for transcoders that read them directly), read like `readExportCsv`. */
  async readExportRawBody<T>(query: FeedbackQuery, consume: (body: Readable) => Promise<T>): Promise<Retried<T>> {
    return this.#readStream(this.#rawSpec(query), consume);
  }

  #readStream<T>(spec: ReadSpec, consume: (body: Readable) => Promise<T>): Promise<Retried<T>> {
    return this.#read(spec, async (body) => {
      const stream = this.#bodyStream(spec.operation, body, spec.signal);
      try {
        return await consume(stream);
      } catch (err) {
        // A consumer that gave up early leaves the stream unread: close it without an unheard error.
        stream.on('error', () => undefined);
        stream.destroy();
        throw err;
      }
    });
  }

  async readExportRaw<T>(query: FeedbackQuery, consume: (records: AsyncIterable<RawFeedbackRecord>) => Promise<T>): Promise<Retried<T>> {
    const spec = this.#rawSpec(query);
    return this.#read(spec, (body) => consume(this.#rawRecords(spec.operation, body, query.signal)));
  }

  #csvSpec(query: FeedbackQuery & { delimiter?: string }): ReadSpec {
    if (query.delimiter !== undefined && query.delimiter.length === 0) throw new InputError('feedback export: delimiter must not be empty');
    return {
      operation: 'feedback.export',
      method: 'GET',
      path: `/userfeedback/v1/export/${feedbackPath(query)}`,
      query: { ...oxWindowParams(query), delimiter: query.delimiter },
      credentials: this.#rest,
      family: 'rest',
      signal: query.signal,
      retry: 'idempotent',
      ok: [200],
    };
  }

  #rawSpec(query: FeedbackQuery): ReadSpec {
    return {
      operation: 'feedback.raw',
      method: 'GET',
      path: `/userfeedback/v1/export/${feedbackPath(query)}/raw`,
      query: { ...oxWindowParams(query) },
      credentials: this.#rest,
      family: 'rest',
      signal: query.signal,
      retry: 'idempotent',
      ok: [200],
    };
  }

  async *#rawRecords(operation: string, body: Dispatcher.ResponseData['body'], signal?: AbortSignal): AsyncGenerator<RawFeedbackRecord> {
    try {
      for await (const element of parseJsonArray(body)) {
        if (typeof element !== 'object' || element === null || Array.isArray(element)) {
          throw new JsonArrayFormatError('an array element is not an object');
        }
        yield toRawRecord(element as Record<string, unknown>);
      }
    } catch (err) {
      throw this.#bodyError(operation, err, signal);
    } finally {
      // Early exit by the consumer, or an error: give the socket back instead of reading on.
      if (!body.readableEnded) body.destroy();
    }
  }

  async sendFeedback(request: SendRequest): Promise<SendResult> {
    const operation = 'feedback.send';
    if (!Array.isArray(request.recipients) || request.recipients.length === 0) {
      throw new InputError('feedback send: at least one recipient is required');
    }
    const recipients = request.recipients.map((r, i) => {
      if (!r.address || typeof r.address !== 'string') throw new InputError(`feedback send: recipient ${i + 1} has no address`);
      return { address: r.address, ...(r.displayName ? { displayName: r.displayName } : {}), ...(r.pgp_key ? { pgp_key: r.pgp_key } : {}) };
    });
    const body = JSON.stringify({
      ...(request.subject !== undefined ? { subject: request.subject } : {}),
      ...(request.body !== undefined ? { body: request.body } : {}),
      compress: request.compress ?? false,
      recipients,
    });
    const response = await this.#call({
      operation,
      method: 'POST',
      path: `/userfeedback/v1/send/${feedbackPath(request)}`,
      query: { ...oxWindowParams(request) },
      body,
      credentials: this.#rest,
      family: 'rest',
      signal: request.signal,
      retry: 'unsent-only',
      ok: [200],
    });
    return parseSendAnswer(await this.#readText(operation, response.body, request.signal));
  }

  async deleteFeedback(query: FeedbackQuery): Promise<DeleteResult> {
    const operation = 'feedback.delete';
    const params = oxWindowParams(query);
    const response = await this.#call({
      operation,
      method: 'DELETE',
      path: `/userfeedback/v1/${feedbackPath(query)}`,
      query: { ...params },
      credentials: this.#rest,
      family: 'rest',
      signal: query.signal,
      retry: 'idempotent',
      ok: [200],
    });
    const text = await this.#readText(operation, response.body, query.signal);
    const answer = parseDeleteAnswer(text, headerValue(response.headers['content-type']), {
      contextGroup: query.contextGroup || DEFAULT_GROUP,
      type: query.type || DEFAULT_TYPE,
      ...(params.start !== undefined ? { start: Number(params.start) } : {}),
      ...(params.end !== undefined ? { end: Number(params.end) } : {}),
    });
    if ('unexpected' in answer) {
      // A login page of a proxy in front of OX, an empty body, successful=false: no proof that
      // anything was deleted, and asking again gets the same answer.
      throw new OxError({
        operation,
        kind: 'protocol',
        retryable: false,
        status: 200,
        answerCode: 'OXB_UNEXPECTED_ANSWER',
        reason: `not OX's delete answer: ${answer.unexpected}`,
        hint: 'not counted as deleted; check what answers at ox.url (a proxy or SSO login in front of OX?)',
      });
    }
    return answer;
  }

  // ---- advertisement -------------------------------------------------------------------------

  setUserConfig(args: { contextId: number; userId: number; config: unknown } & CallOptions): Promise<AdWriteOutcome> {
    return this.#adWrite(
      'ads.set-user',
      'PUT',
      'user',
      { contextId: id(args.contextId, 'contextId'), userId: id(args.userId, 'userId') },
      args.config,
      args.signal,
    );
  }

  deleteUserConfig(args: { contextId: number; userId: number } & CallOptions): Promise<AdWriteOutcome> {
    return this.#adWrite(
      'ads.delete-user',
      'DELETE',
      'user',
      { contextId: id(args.contextId, 'contextId'), userId: id(args.userId, 'userId') },
      undefined,
      args.signal,
    );
  }

  setNameConfig(args: { contextId: number; name: string; config: unknown } & CallOptions): Promise<AdWriteOutcome> {
    return this.#adWrite(
      'ads.set-name',
      'PUT',
      'name',
      { contextId: id(args.contextId, 'contextId'), name: nonEmpty(args.name, 'name') },
      args.config,
      args.signal,
    );
  }

  deleteNameConfig(args: { contextId: number; name: string } & CallOptions): Promise<AdWriteOutcome> {
    return this.#adWrite(
      'ads.delete-name',
      'DELETE',
      'name',
      { contextId: id(args.contextId, 'contextId'), name: nonEmpty(args.name, 'name') },
      undefined,
      args.signal,
    );
  }

  setPackageConfig(args: { reseller: string; package: string; config: unknown } & CallOptions): Promise<AdWriteOutcome> {
    return this.#adWrite('ads.set-package', 'PUT', 'package', { reseller: args.reseller, package: args.package }, args.config, args.signal);
  }

  deletePackageConfig(args: { reseller: string; package: string } & CallOptions): Promise<AdWriteOutcome> {
    return this.#adWrite(
      'ads.delete-package',
      'DELETE',
      'package',
      { reseller: args.reseller, package: args.package },
      undefined,
      args.signal,
    );
  }

  async setResellerConfigs(args: { reseller: string; entries: ResellerPackageConfig[] } & CallOptions): Promise<ResellerEntryResult[]> {
    const operation = 'ads.set-reseller';
    if (!Array.isArray(args.entries)) throw new InputError('ads set-reseller: entries must be an array of {package, config}');
    const response = await this.#call({
      operation,
      method: 'PUT',
      path: '/advertisement/v1/config/reseller',
      query: { reseller: args.reseller },
      body: JSON.stringify(args.entries.map((e) => ({ package: e.package, config: e.config ?? null }))),
      credentials: this.#rest,
      family: 'rest',
      signal: args.signal,
      retry: 'idempotent',
      ok: [200],
    });
    const text = await this.#readText(operation, response.body, args.signal);
    const entries = parseResellerAnswer(text);
    if (!entries) {
      throw new OxError({
        operation,
        kind: 'protocol',
        retryable: false,
        status: 200,
        reason: 'answer is not an array of per-entry statuses',
        errorDesc: text.slice(0, 200),
      });
    }
    return entries;
  }

  // ---- admin ---------------------------------------------------------------------------------

  async passwordChanges(
    args: { contextId: number; userId: number; limit?: number; sort?: string } & CallOptions,
  ): Promise<PasswordChange[]> {
    const operation = 'passwd-changes';
    const contextId = id(args.contextId, 'contextId');
    const userId = id(args.userId, 'userId');
    if (args.limit !== undefined && (!Number.isInteger(args.limit) || args.limit < 1))
      throw new InputError(`passwd-changes: limit must be a positive integer, got ${args.limit}`);
    // Read inside the try: a history whose answer breaks off is asked for again.
    const { value: text } = await this.#read(
      {
        operation,
        method: 'GET',
        path: `/admin/v1/contexts/${contextId}/users/${userId}/passwd-changes`,
        query: { limit: args.limit, sort: args.sort },
        credentials: this.#adminCredentials(contextId),
        family: 'admin',
        signal: args.signal,
        retry: 'idempotent',
        ok: [200],
      },
      (body) => this.#readText(operation, body, args.signal),
    );
    let parsed: unknown;
    try {
      parsed = text.trim() === '' ? [] : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed)) {
      throw new OxError({
        operation,
        kind: 'protocol',
        retryable: false,
        status: 200,
        reason: 'answer is not a JSON array',
        errorDesc: text.slice(0, 200),
      });
    }
    return parsed.map((entry: Record<string, unknown>) => {
      const change: PasswordChange = {
        date: Number(entry.date),
        client_id: String(entry.client_id ?? ''),
        client_address: String(entry.client_address ?? ''),
      };
      if (entry.client_name !== undefined && entry.client_name !== null) change.client_name = String(entry.client_name);
      return change;
    });
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  // ---- plumbing ------------------------------------------------------------------------------

  #adminCredentials(contextId: number): Credentials | undefined {
    const perContext = this.#config.admin.contexts[String(contextId)];
    if (perContext) return { ...perContext, source: `ox.admin.contexts.${contextId}` };
    if (this.#config.admin.user && this.#config.admin.password) {
      return {
        user: this.#config.admin.user,
        password: this.#config.admin.password,
        source: 'ox.admin.user / ox.admin.password (OX_ADMIN_USER / OX_ADMIN_PASSWORD)',
      };
    }
    return undefined;
  }

  async #adWrite(
    operation: string,
    method: 'PUT' | 'DELETE',
    target: string,
    query: Record<string, string | number>,
    config: unknown,
    signal?: AbortSignal,
  ): Promise<AdWriteOutcome> {
    if (method === 'PUT' && config === undefined) throw new InputError(`${operation}: a config (any JSON value) is required`);
    const response = await this.#call({
      operation,
      method,
      path: `/advertisement/v1/config/${target}`,
      query,
      body: method === 'PUT' ? JSON.stringify(config) : undefined,
      credentials: this.#rest,
      family: 'rest',
      signal,
      retry: 'idempotent',
      ok: method === 'PUT' ? [200, 201] : [200, 204],
    });
    await this.#readText(operation, response.body, signal);
    return adOutcome(method, response.statusCode);
  }

  /** One request with retries; resolves with a response whose status is in `spec.ok`, body unread. */
  #call(spec: RequestSpec): Promise<Dispatcher.ResponseData> {
    return withRetries({ operation: spec.operation, policy: this.#policy, signal: spec.signal, log: this.#log, random: this.#random }, () =>
      this.#attempt(spec),
    );
  }

  /**
   * An idempotent GET whose body is consumed inside the try: when the body breaks off, the whole
   * request runs again from the beginning (one retry budget for failed requests and cut bodies).
   * Errors of `consume` itself (a full disk, a malformed answer) are not retried.
   */
  async #read<T>(spec: ReadSpec, consume: (body: Dispatcher.ResponseData['body']) => Promise<T>): Promise<Retried<T>> {
    let tries = 0;
    const value = await withRetries(
      { operation: spec.operation, policy: this.#policy, signal: spec.signal, log: this.#log, random: this.#random },
      async (tryNumber) => {
        tries = tryNumber;
        const response = await this.#attempt(spec);
        try {
          return await consume(response.body);
        } catch (err) {
          if (!response.body.readableEnded) response.body.destroy();
          throw err;
        }
      },
    );
    return { value, retries: tries - 1 };
  }

  async #attempt(spec: RequestSpec): Promise<Dispatcher.ResponseData> {
    const { operation, signal } = spec;
    const path = this.#basePath + spec.path + queryString(spec.query);
    const headers: Record<string, string> = { accept: 'application/json, text/csv, text/plain, */*' };
    if (spec.credentials)
      headers.authorization = `Basic ${Buffer.from(`${spec.credentials.user}:${spec.credentials.password}`).toString('base64')}`;
    if (spec.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
    const started = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      response = await this.#pool.request({
        method: spec.method,
        path,
        headers,
        body: spec.body,
        signal,
        highWaterMark: BODY_BUFFER_BYTES,
      });
    } catch (err) {
      this.#observe(operation, 'network', started);
      throw this.#transportError(spec, err);
    }
    this.#observe(operation, response.statusCode, started);
    this.#log?.debug(
      { operation, method: spec.method, path: spec.path, status: response.statusCode, ms: Math.round(performance.now() - started) },
      `OX ${operation} → ${response.statusCode}`,
    );
    if (spec.ok.includes(response.statusCode)) return response;
    throw await this.#httpError(spec, response);
  }

  #observe(operation: string, status: number | 'network', started: number): void {
    if (!this.#observer) return;
    try {
      this.#observer({ operation, status, durationMs: performance.now() - started });
    } catch {
      // Metrics must never break a call.
    }
  }

  async #httpError(spec: RequestSpec, response: Dispatcher.ResponseData): Promise<OxError> {
    const status = response.statusCode;
    let text = '';
    try {
      text = await readLimited(response.body, ERROR_BODY_LIMIT);
    } catch {
      // The status says enough; an unreadable error body must not hide it.
    }
    const details = parseErrorBody(text);
    // A send that got 503 was refused before OX's resource ran; any other failure may have mailed.
    const retryable = RETRYABLE_STATUSES.has(status) && (spec.retry === 'idempotent' || status === 503);
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(response.headers['retry-after']) : undefined;
    return new OxError({
      operation: spec.operation,
      kind: 'http',
      status,
      retryable,
      retryAfterMs,
      notSent: status === 503 || (status >= 400 && status < 500),
      reason: response.statusText || STATUS_CODES[status],
      oxCode: details.code,
      errorDesc: details.errorDesc,
      errorId: details.errorId,
      hint: hintFor(spec, status, text === '', this.baseUrl),
    });
  }

  #transportError(spec: RequestSpec, err: unknown): OxError {
    if (spec.signal?.aborted) return abortedError(spec.operation, spec.signal.reason);
    const code = errorCode(err);
    const neverSent = NEVER_SENT_CODES.has(code);
    const kind: OxErrorKind =
      code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : 'network';
    const protocolFailure = code.startsWith('HPE_');
    if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED') {
      return new OxError({ operation: spec.operation, kind: 'network', retryable: false, cause: err, reason: 'the client was closed' });
    }
    return new OxError({
      operation: spec.operation,
      kind: protocolFailure ? 'protocol' : kind,
      cause: err,
      notSent: neverSent,
      retryable: !protocolFailure && (spec.retry === 'idempotent' || neverSent),
      reason: `${kind === 'timeout' ? 'timed out' : 'network error'} talking to ${this.baseUrl}: ${code || (err as Error)?.message || String(err)}`,
      hint:
        spec.retry === 'unsent-only' && !neverSent ? 'not retried: the request may have reached OX and mails may have gone out' : undefined,
    });
  }

  #bodyError(operation: string, err: unknown, signal?: AbortSignal): OxError {
    if (err instanceof OxError) return err;
    if (signal?.aborted) return abortedError(operation, signal.reason);
    if (err instanceof JsonArrayFormatError)
      return new OxError({ operation, kind: 'protocol', retryable: false, reason: `malformed answer: ${err.message}`, cause: err });
    const code = errorCode(err);
    return new OxError({
      operation,
      kind: code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : 'network',
      retryable: true,
      cause: err,
      reason: `the answer broke off (${code || (err as Error)?.message || String(err)})`,
    });
  }

  /** The body as a plain Readable whose errors are OxErrors; destroying it releases the socket. */
  #bodyStream(operation: string, body: Dispatcher.ResponseData['body'], signal?: AbortSignal): Readable {
    const out = new PassThrough({ highWaterMark: BODY_BUFFER_BYTES });
    body.on('error', (err) => out.destroy(this.#bodyError(operation, err, signal)));
    out.on('close', () => {
      if (!body.readableEnded) body.destroy();
    });
    body.pipe(out);
    return out;
  }

  /**
   * A non-streaming answer (send, delete, advertisement, passwd-changes), at most
   * `ox.maxAnswerBytes`: a server or proxy sending without end must not fill the memory.
   */
  async #readText(operation: string, body: Dispatcher.ResponseData['body'], signal?: AbortSignal): Promise<string> {
    const limit = this.#config.maxAnswerBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > limit) {
          body.destroy();
          throw new OxError({
            operation,
            kind: 'protocol',
            retryable: false,
            status: 200,
            answerCode: 'OXB_ANSWER_TOO_LARGE',
            reason: `the answer is larger than ox.maxAnswerBytes (${limit} bytes)`,
            hint: "not OX's answer to this call, or raise ox.maxAnswerBytes",
          });
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      throw this.#bodyError(operation, err, signal);
    }
    return Buffer.concat(chunks, size).toString('utf8');
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function feedbackPath(target: { contextGroup?: string; type?: string }): string {
  return `${encodeURIComponent(target.contextGroup || DEFAULT_GROUP)}/${encodeURIComponent(target.type || DEFAULT_TYPE)}`;
}

function queryString(query: Record<string, string | number | undefined> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

function id(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new InputError(`${what} must be a non-negative integer, got ${String(value)}`);
  return value;
}

function nonEmpty(value: string, what: string): string {
  if (typeof value !== 'string' || value === '') throw new InputError(`${what} must not be empty`);
  return value;
}

/** A raw export element as the client hands it out: every value a string (exported for the csv golden tests). */
export function toRawRecord(element: Record<string, unknown>): RawFeedbackRecord {
  // OX sends strings only; copy just in the odd case it does not.
  for (const key in element) {
    if (typeof element[key] !== 'string') return coerceToStrings(element);
  }
  return element as RawFeedbackRecord;
}

function coerceToStrings(element: Record<string, unknown>): RawFeedbackRecord {
  const record: RawFeedbackRecord = {};
  for (const key of Object.keys(element)) {
    const value = element[key];
    record[key] =
      typeof value === 'string'
        ? value
        : value === null || value === undefined
          ? ''
          : typeof value === 'object'
            ? JSON.stringify(value)
            : String(value);
  }
  return record;
}

/** undici's or Node's code of a transport error (UND_ERR_*, ECONNRESET), never ox-batch's own OXB_* codes. */
function errorCode(err: unknown): string {
  const codeOf = (e: unknown) => {
    const code = e instanceof OxBatchError ? undefined : (e as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? code : undefined;
  };
  return codeOf(err) ?? codeOf((err as { cause?: unknown } | undefined)?.cause) ?? '';
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    chunks.push(buffer);
    size += buffer.length;
    if (size >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/**
 * OX error bodies: the error object (`code`, `error_desc`, `error_id`), a bare JSON string (send's
 * parser messages), plain text, or nothing at all (advertisement 500s, 403, passwd-changes).
 */
export function parseErrorBody(text: string): { code?: string; errorDesc?: string; errorId?: string } {
  const body = text.trim();
  if (body === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { errorDesc: oneLine(body) };
  }
  if (typeof parsed === 'string') return { errorDesc: oneLine(parsed) };
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    const o = parsed as Record<string, unknown>;
    const desc = o.error_desc ?? o.error;
    return {
      code: typeof o.code === 'string' ? o.code : undefined,
      errorDesc: typeof desc === 'string' ? oneLine(desc) : undefined,
      errorId: typeof o.error_id === 'string' || typeof o.error_id === 'number' ? String(o.error_id) : undefined,
    };
  }
  return { errorDesc: oneLine(body) };
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 500 ? `${flat.slice(0, 497)}...` : flat;
}

function hintFor(spec: RequestSpec, status: number, emptyBody: boolean, baseUrl: string): string | undefined {
  if (status === 401) {
    return spec.credentials
      ? `OX rejected the credentials from ${spec.credentials.source}`
      : spec.family === 'rest'
        ? 'no REST credentials configured: set ox.user / ox.password (OX_USER / OX_PASSWORD)'
        : 'no admin credentials configured: set ox.admin.contexts.<id> or ox.admin.user / ox.admin.password';
  }
  if (status === 403 && spec.family === 'rest' && emptyBody) {
    return 'the OX server has no REST credentials configured (com.openexchange.rest.services.basic-auth.login / .password)';
  }
  if (status === 404 && spec.family === 'admin' && emptyBody) {
    return 'context or user not found, password-change history disabled, or a guest user';
  }
  if (status === 404 && spec.family === 'rest' && emptyBody) return `no such endpoint below ${baseUrl} (check ox.url)`;
  return undefined;
}
