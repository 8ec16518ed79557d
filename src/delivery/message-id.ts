/**
 * Deterministic Message-IDs: the same (schedule, artifact window, recipients) always gives the
 * same id, so if a crash makes us send a mail twice, mail servers and clients that deduplicate by
 * Message-ID show it once, and people can tell the copies are the same message.
 */
import { createHash } from 'node:crypto';
import { compactUtc, type ArtifactNaming } from './archive-key.js';

export function deterministicMessageId(naming: ArtifactNaming, recipients: readonly string[], from: string): string {
  const identity = [naming.schedule, naming.group, naming.type, naming.window.start, naming.window.end, ...[...recipients].sort()].join(
    '\n',
  );
  const digest = createHash('sha256').update(identity).digest('hex').slice(0, 16);
  return `<oxb.${atom(naming.schedule)}.${compactUtc(naming.window.start)}.${digest}@${domainOf(from)}>`;
}

/** Message-ID's left side is a dot-atom: keep it to letters, digits, - and _. */
function atom(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]+/g, '-');
}

function domainOf(from: string): string {
  const address = /<([^>]+)>/.exec(from)?.[1] ?? from;
  const domain = address.slice(address.lastIndexOf('@') + 1).replace(/[^A-Za-z0-9.-]/g, '');
  return address.includes('@') && domain ? domain : 'ox-batch.invalid';
}
