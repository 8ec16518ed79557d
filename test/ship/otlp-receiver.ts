/**
 * A real OTLP/HTTP receiver for tests: accepts `POST /v1/traces` as the exporters send it
 * (`application/x-protobuf`, OTLP/HTTP's default encoding) and decodes the spans. The protobuf is read
 * with a small wire-format decoder over the fields of opentelemetry-proto's trace.proto that the
 * tests look at (ids, parent, name, kind, attributes, links).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  scope: string;
  service: string;
  attributes: Record<string, string | number | boolean>;
  links: Array<{ traceId: string; spanId: string }>;
}

type Field = { no: number; wire: number; value: bigint | Buffer };

function varint(buf: Buffer, at: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buf[at++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, at];
    shift += 7n;
  }
}

/** One protobuf message: its fields in order (wire types 0, 1, 2, 5). */
export function decodeFields(buf: Buffer): Field[] {
  const fields: Field[] = [];
  let at = 0;
  while (at < buf.length) {
    const [tag, next] = varint(buf, at);
    at = next;
    const no = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [v, after] = varint(buf, at);
      fields.push({ no, wire, value: v });
      at = after;
    } else if (wire === 1) {
      fields.push({ no, wire, value: buf.subarray(at, at + 8) });
      at += 8;
    } else if (wire === 2) {
      const [len, after] = varint(buf, at);
      fields.push({ no, wire, value: buf.subarray(after, after + Number(len)) });
      at = after + Number(len);
    } else if (wire === 5) {
      fields.push({ no, wire, value: buf.subarray(at, at + 4) });
      at += 4;
    } else {
      throw new Error(`protobuf wire type ${wire} not expected in OTLP traces`);
    }
  }
  return fields;
}

const bytesOf = (fields: Field[], no: number) => fields.filter((f) => f.no === no).map((f) => f.value as Buffer);
const text = (fields: Field[], no: number) => bytesOf(fields, no)[0]?.toString('utf8') ?? '';
const hex = (fields: Field[], no: number) => bytesOf(fields, no)[0]?.toString('hex') ?? '';

function anyValue(buf: Buffer): string | number | boolean {
  const f = decodeFields(buf)[0];
  if (!f) return '';
  if (f.no === 1) return (f.value as Buffer).toString('utf8');
  if (f.no === 2) return (f.value as bigint) !== 0n;
  if (f.no === 3) return Number(BigInt.asIntN(64, f.value as bigint));
  if (f.no === 4) return (f.value as Buffer).readDoubleLE(0);
  return (f.value as Buffer).toString('utf8');
}

function attributes(list: Buffer[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of list) {
    const f = decodeFields(kv);
    out[text(f, 1)] = anyValue(bytesOf(f, 2)[0] ?? Buffer.alloc(0));
  }
  return out;
}

/** ExportTraceServiceRequest (protobuf) → spans. */
export function decodeTraceRequest(buf: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of bytesOf(decodeFields(buf), 1)) {
    const rs = decodeFields(resourceSpans);
    const resource = bytesOf(rs, 1)[0];
    const service = String(attributes(resource ? bytesOf(decodeFields(resource), 1) : [])['service.name'] ?? '');
    for (const scopeSpans of bytesOf(rs, 2)) {
      const ss = decodeFields(scopeSpans);
      const scopeBuf = bytesOf(ss, 1)[0];
      const scope = scopeBuf ? text(decodeFields(scopeBuf), 1) : '';
      for (const spanBuf of bytesOf(ss, 2)) {
        const s = decodeFields(spanBuf);
        spans.push({
          traceId: hex(s, 1),
          spanId: hex(s, 2),
          parentSpanId: hex(s, 4),
          name: text(s, 5),
          kind: Number((s.find((f) => f.no === 6)?.value as bigint | undefined) ?? 0n),
          scope,
          service,
          attributes: attributes(bytesOf(s, 9)),
          links: bytesOf(s, 13).map((l) => {
            const lf = decodeFields(l);
            return { traceId: hex(lf, 1), spanId: hex(lf, 2) };
          }),
        });
      }
    }
  }
  return spans;
}

export interface OtlpReceiver {
  endpoint: string;
  spans: ReceivedSpan[];
  requests: Array<{ contentType: string; bytes: number }>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: OtlpReceiver['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const contentType = String(req.headers['content-type'] ?? '');
      requests.push({ contentType, bytes: body.length });
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.statusCode = 404;
        res.end();
        return;
      }
      spans.push(...decodeTraceRequest(body));
      // An empty ExportTraceServiceResponse.
      res.setHeader('content-type', 'application/x-protobuf');
      res.end(Buffer.alloc(0));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
