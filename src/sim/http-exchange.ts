/**
 * One request/response pair with the answer shapes a real OX uses: empty bodies, OX error
 * objects, bare strings, and streamed export bodies (with the export faults applied).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimRequestRecord } from './sim-types.js';

export interface ExportFaults {
  /** Destroy the connection after this many body bytes (the body never completes). */
  dropAfterBytes?: number;
  bytesPerSecond?: number;
}

export interface OxErrorSpec {
  code: string;
  desc: string;
  params?: string[];
  category?: 'USER_INPUT' | 'ERROR' | 'CONFIGURATION';
}

const CATEGORY_NUMBER = { USER_INPUT: 1, CONFIGURATION: 2, ERROR: 8 } as const;
const GENERIC_ERROR = 'An error occurred inside the server which prevented it from fulfilling the request.';
const MAX_REQUEST_BODY = 16 * 1024 * 1024;

let errorCounter = 0;
const errorIdBase = (Math.random() * 2 ** 31) | 0;

export class Exchange {
  readonly path: string;
  readonly query: URLSearchParams;
  /** Export faults for this request (set by the fault injector). */
  exportFaults: ExportFaults = {};
  /** Other answers: send the headers and this many body bytes, then destroy the connection. */
  cutAnswerAfterBytes?: number;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly record: SimRequestRecord,
    url: URL,
  ) {
    this.path = url.pathname;
    this.query = url.searchParams;
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }

  head(status: number, headers: Record<string, string> = {}, reason?: string): void {
    this.record.status = status;
    // A reason phrase must be printable ASCII; Node throws on anything else (e.g. a login "jörg").
    if (reason !== undefined) this.res.statusMessage = reason.replace(/[^\x20-\x7e]/g, '?');
    this.res.writeHead(status, headers);
  }

  empty(status: number, headers: Record<string, string> = {}, reason?: string): void {
    // 204 must not carry Content-Length (RFC 9110 §8.6).
    this.head(status, status === 204 ? headers : { ...headers, 'Content-Length': '0' }, reason);
    this.res.end();
  }

  text(status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
    const bytes = Buffer.from(body, 'utf8');
    this.head(status, { ...headers, 'Content-Type': contentType, 'Content-Length': String(bytes.length) });
    if (this.cutAnswerAfterBytes !== undefined) {
      const { res } = this;
      res.flushHeaders();
      res.write(bytes.subarray(0, this.cutAnswerAfterBytes), () => res.destroy());
      return;
    }
    this.res.end(bytes);
  }

  json(status: number, value: unknown): void {
    this.text(status, JSON.stringify(value), 'application/json');
  }

  /** OX's error object, as /userfeedback answers most failures. */
  oxError(status: number, spec: OxErrorSpec): void {
    const category = spec.category ?? 'ERROR';
    this.json(status, {
      error: GENERIC_ERROR,
      error_params: spec.params ?? [],
      categories: category,
      category: CATEGORY_NUMBER[category],
      code: spec.code,
      error_id: `${errorIdBase}-${++errorCounter}`,
      error_desc: spec.desc,
    });
  }

  async readBody(): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_REQUEST_BODY) throw new Error('request body too large');
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /** Streams byte chunks with back-pressure, applying the export faults of this request. */
  async stream(status: number, headers: Record<string, string>, chunks: Iterable<Buffer>): Promise<void> {
    const { res } = this;
    const { dropAfterBytes, bytesPerSecond } = this.exportFaults;
    this.head(status, headers);
    res.flushHeaders();
    let sent = 0;
    const started = Date.now();
    for (let bytes of chunks) {
      if (res.destroyed) return;
      if (dropAfterBytes !== undefined && sent + bytes.length >= dropAfterBytes) {
        bytes = bytes.subarray(0, Math.max(0, dropAfterBytes - sent));
        await this.writeFlushed(bytes);
        res.destroy();
        return;
      }
      if (bytesPerSecond && bytesPerSecond > 0) {
        const slice = Math.max(1, Math.floor(bytesPerSecond / 20));
        for (let offset = 0; offset < bytes.length; offset += slice) {
          const part = bytes.subarray(offset, offset + slice);
          if (!(await this.write(part))) return;
          sent += part.length;
          const due = started + (sent / bytesPerSecond) * 1000;
          const wait = due - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
      } else {
        if (!(await this.write(bytes))) return;
        sent += bytes.length;
      }
    }
    if (dropAfterBytes !== undefined) {
      // Shorter than the drop point: still never complete the body.
      res.destroy();
      return;
    }
    res.end();
  }

  /** false when the client went away. */
  private write(bytes: Buffer): Promise<boolean> {
    const { res } = this;
    if (res.destroyed) return Promise.resolve(false);
    if (res.write(bytes)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onDrain = (): void => {
        res.off('close', onClose);
        resolve(true);
      };
      const onClose = (): void => {
        res.off('drain', onDrain);
        resolve(false);
      };
      res.once('drain', onDrain);
      res.once('close', onClose);
    });
  }

  private writeFlushed(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (bytes.length === 0 || this.res.destroyed) return resolve();
      this.res.write(bytes, () => resolve());
    });
  }
}

/** `user:password` of a Basic header, or undefined. */
export function basicCredentials(req: IncomingMessage): { user: string; password: string } | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
