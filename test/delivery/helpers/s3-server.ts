/**
 * A real S3 for tests: s3rver on a random port, plus an optional HTTP proxy in front of it that
 * records every request and can answer 500 to the first N of them (s3rver cannot inject faults).
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArchiveConfig } from '../../../src/config/schema.js';

export interface TestS3 {
  endpoint: string;
  bucket: string;
  archiveConfig(overrides?: Partial<ArchiveConfig>): ArchiveConfig;
  /** Multipart uploads s3rver holds open (created, neither completed nor aborted): their ids. */
  openUploads(): Promise<string[]>;
  /** The bucket's object keys, sorted, read from s3rver directly (not through a proxy). */
  objects(): Promise<string[]>;
  /** An object's bytes, or undefined when the key holds none. */
  read(key: string): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

export async function startS3(bucket = 'oxb-test'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'oxbt-s3rver-'));
  // s3rver ships no types; the dynamic import with a string keeps it untyped on purpose.
  const { default: S3rver } = await import('s3rver' as string);
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] });
  const { port } = (await server.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  let reader: S3Client | undefined;
  const client = () =>
    (reader ??= new S3Client({
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    }));
  return {
    endpoint,
    bucket,
    archiveConfig: (overrides = {}) => s3ArchiveConfig(endpoint, bucket, overrides),
    // s3rver's file store keeps an open upload as a folder below `<bucket>/._S3rver_uploads`.
    openUploads: () => readdir(join(directory, bucket, '._S3rver_uploads')).catch(() => []),
    async objects() {
      const listed = await client().send(new ListObjectsV2Command({ Bucket: bucket }));
      return (listed.Contents ?? []).map((o) => o.Key!).sort();
    },
    async read(key) {
      try {
        const answer = await client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return Buffer.from(await answer.Body!.transformToByteArray());
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
        throw err;
      }
    },
    async close() {
      reader?.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export function s3ArchiveConfig(endpoint: string, bucket: string, overrides: Partial<ArchiveConfig> = {}): ArchiveConfig {
  return {
    kind: 's3',
    dir: './var/archive',
    bucket,
    prefix: '',
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    partSizeBytes: 5 * 1024 * 1024,
    linkTtl: 3_600_000,
    ...overrides,
  };
}

export interface RecordedRequest {
  method: string;
  url: string;
  status: number;
}

export interface FaultyProxy {
  endpoint: string;
  requests: RecordedRequest[];
  /** The next `count` requests are answered with `status` (default 500). */
  failNext(count: number, status?: number): void;
  /** Requests for which `match` answers true are answered 500 (their body read first). */
  failWhen(match: ((method: string, url: string) => boolean) | undefined): void;
  /**
   * Requests matching `match` are held (their body read, no answer) until `releaseHeld()`,
   * which drops them: a client that was cut off mid-upload. Answers how many are held now.
   */
  holdMatching(match: ((method: string, url: string) => boolean) | undefined): void;
  held(): number;
  releaseHeld(): void;
  /**
   * What to do with each request, asked before the hooks above: `fail` answers 500 without
   * forwarding; `lose-answer` forwards it (the store does the work) and answers 500 instead of the
   * store's answer, as when a connection drops after the store acted; `hold` as holdMatching.
   */
  decide(rule: ((method: string, url: string) => 'fail' | 'lose-answer' | 'hold' | undefined) | undefined): void;
  close(): Promise<void>;
}

export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const upstream = new URL(target);
  const requests: RecordedRequest[] = [];
  let failuresLeft = 0;
  let failureStatus = 500;
  let hold: ((method: string, url: string) => boolean) | undefined;
  let failMatching: ((method: string, url: string) => boolean) | undefined;
  let rule: ((method: string, url: string) => 'fail' | 'lose-answer' | 'hold' | undefined) | undefined;
  const heldResponses = new Set<import('node:http').ServerResponse>();
  const forwards = new Set<import('node:http').ClientRequest>();
  const server: Server = createServer((req, res) => {
    const decided = rule?.(req.method!, req.url!);
    if (decided === 'hold' || hold?.(req.method!, req.url!)) {
      req.resume();
      heldResponses.add(res);
      return;
    }
    const injected = decided === 'fail' || failuresLeft > 0 || failMatching?.(req.method!, req.url!) === true;
    if (injected) {
      if (decided !== 'fail' && failuresLeft > 0) failuresLeft -= 1;
      req.resume();
      req.on('end', () => {
        requests.push({ method: req.method!, url: req.url!, status: failureStatus });
        res.writeHead(failureStatus, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by test proxy</Message></Error>');
      });
      return;
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        if (decided === 'lose-answer') {
          answer.resume();
          answer.on('end', () => {
            requests.push({ method: req.method!, url: req.url!, status: 500 });
            res.writeHead(500, { 'content-type': 'application/xml' });
            res.end(
              '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>answer lost by test proxy</Message></Error>',
            );
          });
          return;
        }
        requests.push({ method: req.method!, url: req.url!, status: answer.statusCode! });
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    // A client cut off mid-body (an aborted upload) must not leave the forwarded request open with
    // half a body: s3rver would wait for the rest, and its close() for that connection, forever.
    forwards.add(forward);
    forward.on('close', () => forwards.delete(forward));
    res.on('close', () => {
      if (!res.writableFinished) forward.destroy();
    });
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
    failWhen(match) {
      failMatching = match;
    },
    holdMatching(match) {
      hold = match;
    },
    decide(next) {
      rule = next;
    },
    held: () => heldResponses.size,
    releaseHeld() {
      for (const res of heldResponses) res.destroy();
      heldResponses.clear();
    },
    close: () =>
      new Promise((resolve) => {
        for (const forward of forwards) forward.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ChecksumProxy {
  endpoint: string;
  /** Checksums kept per object key (`bucket/key`), as HeadObject reports them. */
  checksums: Map<string, string>;
  /** Requests refused with BadDigest (a body that did not match its x-amz-checksum-sha256). */
  badDigests: number;
  close(): Promise<void>;
}

/**
 * s3rver stores objects but knows nothing of S3's checksums. This proxy in front of it adds what
 * S3 documents for SHA-256 checksums: a PutObject or UploadPart whose body does not match its
 * `x-amz-checksum-sha256` is refused (400 BadDigest); the checksum is kept per object (for a
 * multipart upload the SHA-256 of the parts' digests, `<base64>-<parts>`, computed at
 * CompleteMultipartUpload); HeadObject with `x-amz-checksum-mode: ENABLED` answers it in
 * `x-amz-checksum-sha256`. It stands in for a checksum-capable store, which this machine has none of.
 */
export async function startChecksumProxy(target: string): Promise<ChecksumProxy> {
  const upstream = new URL(target);
  const checksums = new Map<string, string>();
  const parts = new Map<string, Map<number, Buffer>>();
  const state = { badDigests: 0 };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://proxy');
    const objectKey = decodeURIComponent(url.pathname.slice(1));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const uploadId = url.searchParams.get('uploadId');
      const partNumber = url.searchParams.get('partNumber');
      if (req.method === 'PUT') {
        const sent = req.headers['x-amz-checksum-sha256'];
        const digest = createHash('sha256').update(body).digest();
        if (typeof sent === 'string' && sent !== digest.toString('base64')) {
          state.badDigests += 1;
          res.writeHead(400, { 'content-type': 'application/xml' });
          res.end(
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>BadDigest</Code><Message>The SHA256 you specified did not match the calculated checksum.</Message></Error>',
          );
          return;
        }
        if (uploadId && partNumber) {
          if (!parts.has(uploadId)) parts.set(uploadId, new Map());
          parts.get(uploadId)!.set(Number(partNumber), digest);
        } else if (typeof sent === 'string') {
          checksums.set(objectKey, sent);
        } else {
          checksums.delete(objectKey);
        }
      }
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          const headers = { ...answer.headers };
          if (req.method === 'POST' && uploadId && answer.statusCode === 200) {
            const digests = [...(parts.get(uploadId)?.entries() ?? [])].sort(([a], [b]) => a - b).map(([, d]) => d);
            checksums.set(objectKey, `${createHash('sha256').update(Buffer.concat(digests)).digest('base64')}-${digests.length}`);
            parts.delete(uploadId);
          }
          if (req.method === 'HEAD' && req.headers['x-amz-checksum-mode'] === 'ENABLED' && checksums.has(objectKey)) {
            headers['x-amz-checksum-sha256'] = checksums.get(objectKey)!;
            headers['x-amz-checksum-type'] = checksums.get(objectKey)!.includes('-') ? 'COMPOSITE' : 'FULL_OBJECT';
          }
          res.writeHead(answer.statusCode!, headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    checksums,
    get badDigests() {
      return state.badDigests;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
