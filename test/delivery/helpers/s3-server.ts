/**
 * A real S3 for tests: s3rver on a random port, plus an optional HTTP proxy in front of it that
 * records every request and can answer 500 to the first N of them (s3rver cannot inject faults).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArchiveConfig } from '../../../src/config/schema.js';

export interface TestS3 {
  endpoint: string;
  bucket: string;
  archiveConfig(overrides?: Partial<ArchiveConfig>): ArchiveConfig;
  close(): Promise<void>;
}

export async function startS3(bucket = 'oxb-test'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'oxbt-s3rver-'));
  // s3rver ships no types; the dynamic import with a string keeps it untyped on purpose.
  const { default: S3rver } = await import('s3rver' as string);
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] });
  const { port } = (await server.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    archiveConfig: (overrides = {}) => s3ArchiveConfig(endpoint, bucket, overrides),
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export function s3ArchiveConfig(endpoint: string, bucket: string, overrides: Partial<ArchiveConfig> = {}): ArchiveConfig {
  return {
    kind: 's3', dir: './var/archive', bucket, prefix: '', endpoint, region: 'us-east-1', forcePathStyle: true,
    accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', partSizeBytes: 5 * 1024 * 1024, linkTtl: 3_600_000,
    ...overrides,
  };
}

export interface RecordedRequest { method: string; url: string; status: number }

export interface FaultyProxy {
  endpoint: string;
  requests: RecordedRequest[];
  /** The next `count` requests are answered with `status` (default 500). */
  failNext(count: number, status?: number): void;
  close(): Promise<void>;
}

export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const upstream = new URL(target);
  const requests: RecordedRequest[] = [];
  let failuresLeft = 0;
  let failureStatus = 500;
  const server: Server = createServer((req, res) => {
    if (failuresLeft > 0) {
      failuresLeft -= 1;
      req.resume();
      req.on('end', () => {
        requests.push({ method: req.method!, url: req.url!, status: failureStatus });
        res.writeHead(failureStatus, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by test proxy</Message></Error>');
      });
      return;
    }
    const forward = request({
      host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers,
    }, (answer) => {
      requests.push({ method: req.method!, url: req.url!, status: answer.statusCode! });
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    failNext(count, status = 500) {
      failuresLeft = count;
      failureStatus = status;
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
