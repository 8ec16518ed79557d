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

export interface VerifyResult {
  ok: boolean;
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
  putFile(key: string, filePath: string, options: { contentType: string; bytes: number; sha256: string; signal?: AbortSignal; immutable?: boolean }): Promise<ArchiveObjectInfo>;
  putJson(key: string, value: unknown, options?: { signal?: AbortSignal }): Promise<ArchiveObjectInfo>;
  readJson<T = unknown>(key: string, options?: { signal?: AbortSignal }): Promise<T | null>;
  /** Reads the object back and checks size and SHA-256. */
  verify(key: string, expected: { bytes: number; sha256: string }, options?: { signal?: AbortSignal }): Promise<VerifyResult>;
  exists(key: string, options?: { signal?: AbortSignal }): Promise<boolean>;
  /** A time-limited download link (S3 only; fs throws an InputError naming the reason). */
  presignGet(key: string, ttlMs: number): Promise<string>;
  close(): Promise<void>;
}

export interface MailAttachment {
  filename: string;
  path: string;
  contentType: string;
}

export interface MailMessage {
  from: string;
  to: string[];
  cc?: string[];
  subject: string;
  text: string;
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
