/**
 * Where artifacts go. `ArchiveStore` is the fs folder or the S3 bucket (fs-archive.ts,
 * s3-archive.ts); `Mailer` is nodemailer over SMTP (smtp-mailer.ts).
 */

export interface ArchiveObjectInfo {
  key: string;
  bytes: number;
  /** Lowercase hex SHA-256 of the stored bytes. */
  sha256: string;
}

/**
 * How a stored object was shown to hold the expected bytes:
 * - `same-inode` (fs): the archive file is the spool's own inode (a hard link on the same file
 *   system, fsynced), whose SHA-256 was computed while it was written: nothing was copied, so
 *   there is nothing to read back;
 * - `read-back` (fs): the stored file was read and hashed;
 * - `s3-checksum` (S3): S3 checked the SHA-256 checksums sent with the upload
 *   (`x-amz-checksum-sha256`) and HeadObject (`ChecksumMode: ENABLED`) answered the same
 *   checksum, computed here from the bytes that were uploaded, which hashed to the spool's SHA-256;
 * - `download` (S3): the object was downloaded and hashed (stores without checksum support).
 */
export type VerificationMethod = 'same-inode' | 'read-back' | 's3-checksum' | 'download';

export interface VerifyOptions {
  signal?: AbortSignal;
  /**
   * The local file the object was just stored from (putFile's `filePath`): a store that can
   * prove the object equals it without reading the object back does so.
   */
  localCopy?: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Set when ok. */
  verifiedBy?: VerificationMethod;
  /** Why not, for a person: "missing", "size 10 != 12", "sha256 mismatch". */
  reason?: string;
  bytes?: number;
  sha256?: string;
}

export interface ArchiveStore {
  readonly kind: 'fs' | 's3';
  /** Where a key lives, for people: an absolute path or s3://bucket/key. */
  describe(key: string): string;
  /**
   * Stores a local file under `key`, atomically (no half object is ever visible). `immutable`:
   * the caller guarantees the file never changes again (a finished spool), so the fs store may
   * hard-link it instead of copying.
   */
  putFile(
    key: string,
    filePath: string,
    options: { contentType: string; bytes: number; sha256: string; signal?: AbortSignal; immutable?: boolean },
  ): Promise<ArchiveObjectInfo>;
  putJson(key: string, value: unknown, options?: { signal?: AbortSignal }): Promise<ArchiveObjectInfo>;
  readJson<T = unknown>(key: string, options?: { signal?: AbortSignal }): Promise<T | null>;
  /** Checks size and SHA-256 of the stored object: read back, or proven otherwise (VerificationMethod). */
  verify(key: string, expected: { bytes: number; sha256: string }, options?: VerifyOptions): Promise<VerifyResult>;
  exists(key: string, options?: { signal?: AbortSignal }): Promise<boolean>;
  /** A time-limited download link (S3 only; fs throws an InputError naming the reason). */
  presignGet(key: string, ttlMs: number): Promise<string>;
  close(): Promise<void>;
}

export interface MailAttachment {
  filename: string;
  /** A file to attach, or the bytes themselves. */
  path?: string;
  content?: Buffer;
  contentType: string;
  /** Set for an inline image the HTML part shows as `cid:<cid>`. */
  cid?: string;
}

export interface MailMessage {
  from: string;
  to: string[];
  cc?: string[];
  subject: string;
  text: string;
  /** An HTML alternative to `text`. */
  html?: string;
  /** Deterministic per (schedule, window, recipients), e.g. `<oxb.feedback-daily.20261101T000000Z.ab12@ox-batch>`. */
  messageId: string;
  attachments?: MailAttachment[];
  signal?: AbortSignal;
}

export interface MailReceipt {
  messageId: string;
  accepted: string[];
  rejected: string[];
  response: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<MailReceipt>;
  close(): Promise<void>;
}
