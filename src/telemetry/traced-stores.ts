/**
 * Spans around the archive store and the mailer (S3 / fs writes and reads, SMTP sends) while
 * tracing is on. The AWS SDK speaks node:http and nodemailer raw sockets: no undici request to
 * instrument, so the window's trace gets these spans here. Keys and counts only; never an
 * address, credential or endpoint.
 */
import type { ArchiveStore, Mailer } from '../delivery/types.js';
import { inSpan, tracingOn } from './tracing.js';

export function tracedArchive(store: ArchiveStore): ArchiveStore {
  if (!tracingOn()) return store;
  const attrs = (operation: string, key: string) => ({
    'oxb.archive.kind': store.kind,
    'oxb.archive.operation': operation,
    'oxb.archive.key': key,
  });
  return {
    kind: store.kind,
    describe: (key) => store.describe(key),
    putFile: (key, filePath, options) =>
      inSpan(`archive put ${store.kind}`, { ...attrs('put', key), 'oxb.archive.bytes': options.bytes }, () =>
        store.putFile(key, filePath, options),
      ),
    putJson: (key, value, options) => inSpan(`archive put ${store.kind}`, attrs('put-json', key), () => store.putJson(key, value, options)),
    readJson: (key, options) => inSpan(`archive read ${store.kind}`, attrs('read-json', key), () => store.readJson(key, options)),
    verify: (key, expected, options) =>
      inSpan(`archive verify ${store.kind}`, { ...attrs('verify', key), 'oxb.archive.bytes': expected.bytes }, () =>
        store.verify(key, expected, options),
      ),
    exists: (key, options) => inSpan(`archive exists ${store.kind}`, attrs('exists', key), () => store.exists(key, options)),
    presignGet: (key, ttlMs) => store.presignGet(key, ttlMs),
    close: () => store.close(),
  };
}

export function tracedMailer(mailer: Mailer): Mailer {
  if (!tracingOn()) return mailer;
  return {
    send: (message) =>
      inSpan(
        'smtp send',
        { 'oxb.mail.recipients': message.to.length + (message.cc?.length ?? 0), 'oxb.mail.attachments': message.attachments?.length ?? 0 },
        () => mailer.send(message),
      ),
    close: () => mailer.close(),
  };
}
