/**
 * Delivers a spooled artifact of one (schedule, window): into the archive under a deterministic
 * key with a manifest beside it, verified by reading it back, and by mail — each effect exactly
 * once per window, remembered in the window's DeliveryLog. Shared by every job that produces a
 * file per window (feedback.export, passwd.audit).
 *
 * Order matters: data object, read-back verification, manifest, ledger record. A manifest
 * therefore always describes verified data, and the ledger only ever points at verified objects
 * (the purge job deletes feedback from OX on the strength of that record).
 */
import type { Logger } from '../log/logger.js';
import { DeliveryError, InputError, MailBusyError, RefusedError } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { OxApi } from '../ox/types.js';
import type { DeliveryLog, MailClaim } from '../ledger/types.js';
import { isoUtc } from '../time/parse-time.js';
import { toolVersion } from '../version.js';
import { artifactKey, keyBaseName, manifestKeyFor, type ArtifactNaming } from './archive-key.js';
import { OxError } from '../ox/ox-error.js';
import type { ArchiveStore, Mailer, MailAttachment } from './types.js';
import { deterministicMessageId } from './message-id.js';
import type { VerificationMethod } from './types.js';

export type DeliveryTarget = 'archive' | 'mail';

export interface SpooledFile {
  path: string;
  rows: number;
  bytes: number;
  sha256: string;
  /** Epoch ms the artifact was complete (the manifest's `exportedAt`). */
  completedAt: number;
}

export interface ArtifactMail {
  via: 'smtp' | 'ox';
  /** Addresses, optionally `Name <address>`. */
  to: readonly string[];
  cc?: readonly string[];
  subject: string;
  text: string;
  /**
   * smtp: an HTML part beside the text (and the images it shows by `cid:`), told how the file
   * travels (attached, or linked when too large). Built only when the mail is really sent, after
   * the recipients are claimed; if it fails, the mail goes out with its text part alone.
   */
  html?: (file: MailedFile) => Promise<{ html: string; inline: readonly InlineImage[] }>;
  /** `via: ox`: OX exports the window itself and mails its own CSV. */
  ox?: {
    contextGroup: string;
    type: string;
    compress: boolean;
    /** ASCII-armoured public keys by address: OX encrypts for these recipients. */
    pgpKeys?: Readonly<Record<string, string>>;
  };
}

export interface MailedFile {
  filename: string;
  bytes: number;
  sha256: string;
  /** Set when the file is too large to attach: a presigned link instead. */
  download?: { url: string; expiresAt: string };
}

export interface InlineImage {
  cid: string;
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface DeliverArtifactRequest {
  artifact: SpooledFile;
  naming: ArtifactNaming;
  contentType: string;
  deliver: readonly DeliveryTarget[];
  /** Job-specific manifest fields (e.g. contextGroup, type, format, compress, oxUrl). */
  manifest: Readonly<Record<string, unknown>>;
  mail?: ArtifactMail;
  job: DeliveryJob;
}

/**
 * What delivery needs of the job context: these fields of JobContext (job-kind.ts sits above
 * delivery/, so they are named here and a JobContext fits them).
 */
export interface DeliveryJob {
  signal: AbortSignal;
  log: Logger;
  deliveries: DeliveryLog;
  force: boolean;
  preview: boolean;
  reexport: boolean;
}

export interface ArchivedArtifact {
  key: string;
  manifestKey: string;
  bytes: number;
  sha256: string;
  /** ISO time the stored bytes were verified (read back, or proven: `verifiedBy`). */
  verifiedAt: string;
  /** How: VerificationMethod (same-inode, read-back, s3-checksum, download). */
  verifiedBy?: VerificationMethod;
  /** Absolute path or s3://bucket/key. */
  location: string;
  /** True when an earlier attempt had archived and verified it already. */
  reused?: boolean;
}

export interface MailedArtifact {
  via: 'smtp' | 'ox';
  /** smtp: the deterministic Message-ID of the mail sent by this run. */
  messageId?: string;
  /** Addresses mailed by this run. */
  accepted: string[];
  /** Addresses an earlier attempt had mailed already: not mailed again. */
  alreadyMailed: string[];
  /** OX sends to these were interrupted earlier: outcome unknown, not sent again without --force. */
  unknown?: string[];
  /** Set when the artifact was too large to attach and a presigned link went out instead. */
  linkExpiresAt?: string;
}

export interface ArtifactResult {
  rows: number;
  bytes: number;
  sha256: string;
  archive?: ArchivedArtifact;
  mail: MailedArtifact[];
  /** A preview of an open window (archived apart, not the window's copy). */
  preview?: true;
}

/** The collaborators delivery uses: these members of Services (job-kind.ts), named here for the same reason. */
interface DeliveryServices {
  readonly config: Config;
  readonly archive: ArchiveStore;
  readonly mailer: Mailer;
  readonly ox: OxApi;
  now(): number;
}

export async function deliverArtifact(request: DeliverArtifactRequest, services: DeliveryServices): Promise<ArtifactResult> {
  if (request.job.preview) return deliverPreview(request, services);
  const { artifact } = request;
  const key = artifactKey(request.naming, services.config.archive.prefix);
  const recipients = request.deliver.includes('mail') ? mailRecipients(request.mail, services) : undefined;
  const oversize = recipients !== undefined && request.mail?.via !== 'ox' && artifact.bytes > services.config.mail.maxAttachmentBytes;

  const result: ArtifactResult = { rows: artifact.rows, bytes: artifact.bytes, sha256: artifact.sha256, archive: undefined, mail: [] };
  // An oversize mail carries a link to the archived object, so it needs the archive too.
  const linkable = oversize && services.archive.kind === 's3';
  if (request.deliver.includes('archive') || linkable) {
    result.archive = await archiveOnce(request, key, services);
  }
  if (recipients) {
    result.mail.push(await mailOnce(request, recipients, key, oversize, result.archive, services));
  }
  return result;
}

/**
 * A preview of an open window: archived under its own marked key (`preview/…`, `.open-<time>`),
 * never mailed (a mail would look like the window's report) and never recorded for the window.
 */
async function deliverPreview(request: DeliverArtifactRequest, services: DeliveryServices): Promise<ArtifactResult> {
  const { artifact, job } = request;
  const naming = { ...request.naming, previewAt: services.now() };
  const key = artifactKey(naming, services.config.archive.prefix);
  if (request.deliver.includes('mail')) job.log.warn('preview of an open window: not mailed (only a closed window is reported by mail)');
  const archived = await storeVerified(
    { ...request, naming, manifest: { ...request.manifest, preview: true, note: PREVIEW_NOTE } },
    key,
    services,
  );
  job.log.warn(
    { key, location: archived.location },
    "PREVIEW of a window that is still open archived apart: it is incomplete, and it is not the window's archived copy",
  );
  return { rows: artifact.rows, bytes: artifact.bytes, sha256: artifact.sha256, archive: archived, mail: [], preview: true };
}

const PREVIEW_NOTE =
  "preview of a window that was still open when exported: incomplete, never counted as the window's archive, never guards a purge";

async function archiveOnce(request: DeliverArtifactRequest, key: string, services: DeliveryServices): Promise<ArchivedArtifact> {
  const { artifact, job } = request;
  const { archive } = services;
  const deliveryId = `archive:${key}`;
  const previous = (await job.deliveries.get(deliveryId)) as (ArchivedArtifact & { at: number }) | null;
  if (previous && !job.force && (await archive.exists(key, { signal: job.signal }))) {
    if (previous.sha256 !== artifact.sha256) {
      job.log.warn(
        { key, archived: previous.sha256, exported: artifact.sha256 },
        'archived artifact differs from this export (OX data changed after the window closed); keeping the archived one',
      );
    }
    job.log.info({ key }, 'artifact already archived and verified by an earlier attempt');
    const { at: _at, ...archived } = previous;
    return { ...archived, reused: true };
  }

  const manifestKey = manifestKeyFor(key);
  const location = archive.describe(key);
  // A closed window's archived copy may be the only one left (feedback.purge deletes from OX on
  // the strength of it): a forced re-run, or a ledger that lost its records, must never replace
  // an intact archived object with a different export.
  const intact = await intactArchivedCopy(key, manifestKey, services, job.signal);
  if (intact && intact.sha256 !== artifact.sha256 && job.reexport) {
    // The purge found rows in OX the archived object lacks: keep it, and store this export
    // as a revision beside it; the window's record points at the revision from now on.
    const revision = await archiveRevision(request, intact, services);
    await job.deliveries.record(deliveryId, { ...revision });
    return revision;
  }
  if (intact && intact.sha256 !== artifact.sha256) {
    throw new RefusedError(
      `archive object ${location} is intact (${intact.bytes} bytes, sha256 ${intact.sha256.slice(0, 12)}…) and differs from this export ` +
        `(${artifact.bytes} bytes, ${artifact.rows} rows): OX's data for the window changed or was purged since it was archived; ` +
        'refusing to overwrite it (move the object and its manifest away first if a new export is really wanted)',
    );
  }
  if (intact) {
    const archived: ArchivedArtifact = {
      key,
      manifestKey,
      bytes: intact.bytes,
      sha256: intact.sha256,
      verifiedAt: isoUtc(services.now()),
      location,
    };
    await job.deliveries.record(deliveryId, { ...archived });
    job.log.info({ key, location }, 'identical artifact already in the archive and intact; not written again');
    return { ...archived, reused: true };
  }
  const archived = await storeVerified(request, key, services);
  await job.deliveries.record(deliveryId, { ...archived });
  return archived;
}

/** Revisions a window may get: far more than late rows ever cause, few enough to look through. */
const MAX_REVISIONS = 99;

/**
 * Stores a re-export under the first revision key (`.r2`, `.r3`, …) that holds no intact object,
 * or reuses one that already holds exactly this export (a retried re-export). Never replaces an
 * intact object.
 */
async function archiveRevision(
  request: DeliverArtifactRequest,
  first: { bytes: number; sha256: string },
  services: DeliveryServices,
): Promise<ArchivedArtifact> {
  const { artifact, job } = request;
  const base = artifactKey(request.naming, services.config.archive.prefix);
  for (let revision = 2; revision <= MAX_REVISIONS; revision += 1) {
    const key = artifactKey({ ...request.naming, revision }, services.config.archive.prefix);
    const intact = await intactArchivedCopy(key, manifestKeyFor(key), services, job.signal);
    if (intact?.sha256 === artifact.sha256) {
      job.log.info({ key }, 'this re-export is already archived as a revision');
      return {
        key,
        manifestKey: manifestKeyFor(key),
        bytes: intact.bytes,
        sha256: intact.sha256,
        verifiedAt: isoUtc(services.now()),
        location: services.archive.describe(key),
        reused: true,
      };
    }
    if (intact) continue;
    const archived = await storeVerified({ ...request, manifest: { ...request.manifest, revision, revisionOf: base } }, key, services);
    job.log.warn(
      { key, first: base, rows: artifact.rows, firstSha256: first.sha256 },
      `re-export archived as revision ${revision} beside ${base} (which is kept)`,
    );
    return archived;
  }
  throw new RefusedError(
    `archive object ${services.archive.describe(base)} has ${MAX_REVISIONS - 1} revisions already: refusing to add another`,
  );
}

/** Writes the spooled artifact under `key`, reads it back, then writes the manifest beside it. */
async function storeVerified(request: DeliverArtifactRequest, key: string, services: DeliveryServices): Promise<ArchivedArtifact> {
  const { artifact, job } = request;
  const { archive } = services;
  const manifestKey = manifestKeyFor(key);
  const location = archive.describe(key);
  const started = performance.now();
  // A finished spool is never written again: the fs store may link instead of copying it.
  await archive.putFile(key, artifact.path, {
    contentType: request.contentType,
    bytes: artifact.bytes,
    sha256: artifact.sha256,
    signal: job.signal,
    immutable: true,
  });
  const stored = performance.now();
  const check = await archive.verify(
    key,
    { bytes: artifact.bytes, sha256: artifact.sha256 },
    { signal: job.signal, localCopy: artifact.path },
  );
  if (!check.ok) throw new DeliveryError(`archive object ${location} failed verification: ${check.reason}`, true);
  const verifiedAt = isoUtc(services.now());
  const timings = { storeMs: Math.round(stored - started), verifyMs: Math.round(performance.now() - stored) };
  await archive.putJson(
    manifestKey,
    {
      schedule: request.naming.schedule,
      ...request.manifest,
      window: { start: isoUtc(request.naming.window.start), end: isoUtc(request.naming.window.end) },
      rows: artifact.rows,
      bytes: artifact.bytes,
      sha256: artifact.sha256,
      verifiedBy: check.verifiedBy,
      exportedAt: isoUtc(artifact.completedAt),
      key,
      toolVersion: toolVersion(),
    },
    { signal: job.signal },
  );
  const archived: ArchivedArtifact = {
    key,
    manifestKey,
    bytes: artifact.bytes,
    sha256: artifact.sha256,
    verifiedAt,
    verifiedBy: check.verifiedBy,
    location,
  };
  job.log.info(
    { key, location, bytes: artifact.bytes, rows: artifact.rows, verifiedBy: check.verifiedBy, ...timings },
    'artifact archived and verified',
  );
  return archived;
}

/** The archived object described by its manifest, when both exist and the object matches it. */
async function intactArchivedCopy(
  key: string,
  manifestKey: string,
  services: DeliveryServices,
  signal: AbortSignal,
): Promise<{ bytes: number; sha256: string } | null> {
  const manifest = await services.archive.readJson<{ bytes?: unknown; sha256?: unknown }>(manifestKey, { signal });
  if (!manifest || typeof manifest.bytes !== 'number' || typeof manifest.sha256 !== 'string') return null;
  const check = await services.archive.verify(key, { bytes: manifest.bytes, sha256: manifest.sha256 }, { signal });
  return check.ok ? { bytes: manifest.bytes, sha256: manifest.sha256 } : null;
}

interface Recipient {
  /** As given, possibly `Name <address>`. */
  text: string;
  address: string;
  displayName?: string;
  role: 'to' | 'cc';
}

/** Validated before anything is delivered: bad mail settings change nothing. */
function mailRecipients(mail: ArtifactMail | undefined, services: DeliveryServices): Recipient[] {
  if (!mail) throw new InputError('deliver includes mail but no mail settings were given');
  if (mail.via === 'ox' && !mail.ox) throw new InputError('mail via ox needs the feedback context group and type');
  const seen = new Set<string>();
  const recipients: Recipient[] = [];
  for (const [role, list] of [
    ['to', mail.to],
    ['cc', mail.cc ?? []],
  ] as const) {
    for (const text of list) {
      const recipient = parseRecipient(text, role);
      if (seen.has(recipient.address)) continue;
      seen.add(recipient.address);
      recipients.push(recipient);
    }
  }
  if (!recipients.some((r) => r.role === 'to')) {
    throw new InputError('mail: no recipients (set params.mailTo, or mail.to / MAIL_TO in config)');
  }
  if (mail.via === 'smtp' && !services.config.mail.smtp) {
    throw new InputError('mail via smtp needs mail.smtp (SMTP_URL)');
  }
  return recipients;
}

const NAMED_ADDRESS = /^\s*"?([^"<]*?)"?\s*<([^<>\s]+@[^<>\s]+)>\s*$/;
const BARE_ADDRESS = /^\s*([^\s<>@]+@[^\s<>@]+)\s*$/;

function parseRecipient(text: string, role: 'to' | 'cc'): Recipient {
  const named = NAMED_ADDRESS.exec(text);
  if (named) return { text: text.trim(), address: named[2]!.toLowerCase(), displayName: named[1] || undefined, role };
  const bare = BARE_ADDRESS.exec(text);
  if (bare) return { text: bare[1]!, address: bare[1]!.toLowerCase(), role };
  throw new InputError(`mail ${role}: "${text}" is not an e-mail address (expected a@example.com or "Name <a@example.com>")`);
}

/**
 * Mails each address at most once per window, whatever runs of the window overlap: every address
 * is claimed in the ledger before the mail server is spoken to (ledger/commands/claimMail-2.lua).
 * Addresses mailed before are skipped; one another live run is mailing sends this attempt back
 * to the queue until that run's claim lease ends (MailBusyError); one whose sender died mid-send
 * is mailed again over SMTP with the first send's Message-ID, never again over OX's send (which
 * has no idempotency key) unless forced.
 */
async function mailOnce(
  request: DeliverArtifactRequest,
  recipients: Recipient[],
  key: string,
  oversize: boolean,
  archived: ArchivedArtifact | undefined,
  services: DeliveryServices,
): Promise<MailedArtifact> {
  const mail = request.mail!;
  const { job } = request;
  const leaseMs = services.config.mail.claimLeaseMs;
  const claimRequest = {
    addresses: recipients.map((r) => r.address),
    via: mail.via,
    // One id for the window's recipients: a resent copy is recognisably the same message.
    messageId: deterministicMessageId(
      request.naming,
      recipients.map((r) => r.address),
      services.config.mail.from,
    ),
    leaseUntil: services.now() + leaseMs,
    force: job.force,
  };
  const claims = await job.deliveries.claimMail(claimRequest);
  // While this run sends, its claims are renewed: a slow mail server never lets another run
  // take them over as a dead sender's.
  const mine = claims.filter((c) => c.status === 'claimed' || c.status === 'reclaimed').map((c) => c.address);
  const renewal = setInterval(
    () => {
      job.deliveries
        .claimMail({ ...claimRequest, addresses: mine, leaseUntil: services.now() + leaseMs, renewOnly: true })
        .catch((err: unknown) => job.log.warn({ err }, 'could not renew the mail claims of this run'));
    },
    Math.max(1_000, Math.floor(leaseMs / 3)),
  );
  renewal.unref();
  try {
    return await mailClaimed(request, recipients, claims, key, oversize, archived, services);
  } finally {
    clearInterval(renewal);
  }
}

async function mailClaimed(
  request: DeliverArtifactRequest,
  recipients: Recipient[],
  claims: MailClaim[],
  key: string,
  oversize: boolean,
  archived: ArchivedArtifact | undefined,
  services: DeliveryServices,
): Promise<MailedArtifact> {
  const mail = request.mail!;
  const { job } = request;
  const byAddress = new Map(claims.map((c) => [c.address, c]));
  const alreadyMailed = claims.filter((c) => c.status === 'sent').map((c) => c.address);
  const unknown = claims.filter((c) => c.status === 'unknown').map((c) => c.address);
  const busy = claims.filter((c) => c.status === 'busy');
  const pending = recipients.filter((r) => ['claimed', 'reclaimed'].includes(byAddress.get(r.address)!.status));
  if (busy.length > 0) {
    // Another live run is mailing some of them: give this attempt's claims back, come back later.
    await job.deliveries.settleMail(
      'release',
      pending.map((r) => ({ address: r.address })),
    );
    const until = Math.max(...busy.map((c) => c.leaseUntil ?? 0));
    throw new MailBusyError(
      `mail: ${busy.map((c) => c.address).join(', ')} ${busy.length === 1 ? 'is' : 'are'} being mailed by another run of this window (claim until ${isoUtc(until)}); trying again then`,
      until + 1_000,
    );
  }
  if (alreadyMailed.length > 0) job.log.info({ alreadyMailed }, 'not mailing recipients that already got this window');
  if (unknown.length > 0) {
    job.log.warn(
      { unknown },
      'mail via OX to these recipients was interrupted earlier: outcome unknown, not sent again (give --force to send it again)',
    );
  }
  const resent = pending.filter((r) => byAddress.get(r.address)!.status === 'reclaimed').map((r) => r.address);
  if (resent.length > 0)
    job.log.warn({ resent }, 'the run that claimed these recipients died mid-send: mailing them again with the same Message-ID');
  if (!pending.some((r) => r.role === 'to') && pending.length > 0) {
    // Only cc recipients left: they become the addressees of their own copy.
    for (const r of pending) r.role = 'to';
  }
  const base = { via: mail.via, alreadyMailed, ...(unknown.length > 0 ? { unknown } : {}) };
  if (pending.length === 0) return { ...base, accepted: [] };
  // Reclaimed addresses keep the Message-ID of the send that was cut off: one message per id.
  const groups = new Map<string, Recipient[]>();
  for (const r of pending) {
    const id = byAddress.get(r.address)!.messageId;
    groups.set(id, [...(groups.get(id) ?? []), r]);
  }
  const results: MailedArtifact[] = [];
  for (const [messageId, group] of groups) {
    results.push(
      mail.via === 'ox'
        ? await mailViaOx(request, group, services)
        : await mailViaSmtp(request, group, messageId, key, oversize, archived, services),
    );
  }
  return {
    ...base,
    ...(mail.via === 'smtp' ? { messageId: results[0]!.messageId } : {}),
    accepted: results.flatMap((r) => r.accepted),
    ...(results.find((r) => r.linkExpiresAt) ? { linkExpiresAt: results.find((r) => r.linkExpiresAt)!.linkExpiresAt } : {}),
  };
}

/** Settles the claims of a send that threw: given back when it provably did not go out. */
async function settleFailedSend(deliveries: DeliveryLog, recipients: readonly Recipient[], err: unknown): Promise<void> {
  const notSent = (err instanceof DeliveryError || err instanceof OxError) && err.notSent;
  await deliveries.settleMail(
    notSent ? 'release' : 'unknown',
    recipients.map((r) => ({ address: r.address })),
  );
}

async function mailViaSmtp(
  request: DeliverArtifactRequest,
  pending: Recipient[],
  messageId: string,
  key: string,
  oversize: boolean,
  archived: ArchivedArtifact | undefined,
  services: DeliveryServices,
): Promise<MailedArtifact> {
  const mail = request.mail!;
  const { artifact, job } = request;
  const { config } = services;
  const { deliveries, log } = job;
  let text = mail.text;
  let linkExpiresAt: string | undefined;
  const file: MailedFile = { filename: keyBaseName(key), bytes: artifact.bytes, sha256: artifact.sha256 };
  const attachments: MailAttachment[] = [];
  if (oversize) {
    if (services.archive.kind !== 's3' || !archived) {
      await deliveries.settleMail(
        'release',
        pending.map((r) => ({ address: r.address })),
      );
      throw new InputError(
        `mail: the artifact has ${artifact.bytes} bytes, more than mail.maxAttachmentBytes (${config.mail.maxAttachmentBytes}); a download link instead of the attachment needs archive.kind s3 (it is ${services.archive.kind})`,
      );
    }
    const url = await services.archive.presignGet(key, config.archive.linkTtl);
    linkExpiresAt = isoUtc(services.now() + config.archive.linkTtl);
    file.download = { url, expiresAt: linkExpiresAt };
    text = `${text.trimEnd()}\n\nThe file ${keyBaseName(key)} (${formatBytes(artifact.bytes)}, SHA-256 ${artifact.sha256}) is too large to attach.\nDownload it until ${linkExpiresAt}:\n${url}\n`;
  } else {
    attachments.push({ filename: keyBaseName(key), path: artifact.path, contentType: request.contentType });
  }
  let rich: { html: string; inline: readonly InlineImage[] } | undefined;
  try {
    rich = mail.html ? await mail.html(file) : undefined;
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'the HTML part could not be built: mailing the text part alone');
  }
  if (rich) attachments.unshift(...rich.inline.map((image) => ({ ...image })));
  let receipt;
  try {
    receipt = await services.mailer.send({
      from: config.mail.from,
      to: pending.filter((r) => r.role === 'to').map((r) => r.text),
      cc: pending.filter((r) => r.role === 'cc').map((r) => r.text),
      subject: mail.subject,
      text,
      ...(rich ? { html: rich.html } : {}),
      messageId,
      attachments: attachments.length > 0 ? attachments : undefined,
      signal: job.signal,
    });
  } catch (err) {
    // Not taken by the server: the claims go back. Cut off mid-DATA: kept, and mailed again
    // with this Message-ID once their lease ends (the first copy may have gone out).
    if (err instanceof DeliveryError && err.notSent)
      await deliveries.settleMail(
        'release',
        pending.map((r) => ({ address: r.address })),
      );
    throw err;
  }
  const acceptedSet = new Set(receipt.accepted.map((a) => a.toLowerCase()));
  const accepted = pending.filter((r) => acceptedSet.has(r.address));
  const rejected = pending.filter((r) => !acceptedSet.has(r.address));
  await deliveries.settleMail(
    'sent',
    accepted.map((r) => ({ address: r.address, record: { via: 'smtp', messageId, role: r.role, response: receipt.response } })),
  );
  await deliveries.settleMail(
    'release',
    rejected.map((r) => ({ address: r.address })),
  );
  log.info({ messageId, accepted: accepted.map((r) => r.address), link: Boolean(linkExpiresAt) }, 'artifact mailed');
  if (rejected.length > 0) {
    throw new DeliveryError(
      `mail: the SMTP server rejected ${rejected.map((r) => r.address).join(', ')} (${accepted.length} other recipient(s) got ${messageId})`,
      false,
    );
  }
  return {
    via: 'smtp',
    messageId,
    accepted: accepted.map((r) => r.address),
    alreadyMailed: [],
    ...(linkExpiresAt ? { linkExpiresAt } : {}),
  };
}

async function mailViaOx(request: DeliverArtifactRequest, pending: Recipient[], services: DeliveryServices): Promise<MailedArtifact> {
  const mail = request.mail!;
  const ox = mail.ox!;
  const { job } = request;
  const keys = new Map(Object.entries(ox.pgpKeys ?? {}).map(([address, key]) => [address.toLowerCase(), key]));
  let answer;
  try {
    answer = await services.ox.sendFeedback({
      contextGroup: ox.contextGroup,
      type: ox.type,
      start: request.naming.window.start,
      end: request.naming.window.end,
      recipients: pending.map((r) => ({
        address: r.address,
        ...(r.displayName ? { displayName: r.displayName } : {}),
        ...(keys.has(r.address) ? { pgp_key: keys.get(r.address) } : {}),
      })),
      subject: mail.subject,
      body: mail.text,
      compress: ox.compress,
      // Never the run's signal: a shutdown must not cut a send OX may be carrying out (it has
      // no idempotency key). The client's own timeouts bound it.
    });
  } catch (err) {
    await settleFailedSend(job.deliveries, pending, err);
    throw err;
  }
  const failedAddresses = new Set([...answer.fail, ...answer.pgpFail].map((a) => a.toLowerCase()));
  const accepted = pending.filter((r) => !failedAddresses.has(r.address));
  await job.deliveries.settleMail(
    'sent',
    accepted.map((r) => ({ address: r.address, record: { via: 'ox', role: r.role, mode: sendMode(answer, r.address) } })),
  );
  await job.deliveries.settleMail(
    'release',
    pending.filter((r) => failedAddresses.has(r.address)).map((r) => ({ address: r.address })),
  );
  job.log.info({ accepted: accepted.map((r) => r.address) }, 'OX mailed its export');
  if (failedAddresses.size > 0) {
    const reasons = [
      answer.fail.length ? `invalid address: ${answer.fail.join(', ')}` : '',
      answer.pgpFail.length ? `unusable PGP key: ${answer.pgpFail.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    throw new DeliveryError(`mail via OX: OX could not mail ${reasons} (${accepted.length} other recipient(s) were mailed)`, false);
  }
  return { via: 'ox', accepted: accepted.map((r) => r.address), alreadyMailed: [] };
}

function sendMode(
  answer: { normal: string[]; sign: string[]; encrypt: string[]; pgp: string[]; message?: string },
  address: string,
): string {
  for (const mode of ['pgp', 'encrypt', 'sign', 'normal'] as const) {
    if (answer[mode].some((a) => a.toLowerCase() === address)) return mode;
  }
  return answer.message ? 'reported in prose' : 'accepted';
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}
