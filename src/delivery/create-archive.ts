import type { ArchiveConfig } from '../config/schema.js';
import { FsArchive } from './fs-archive.js';
import { S3Archive } from './s3-archive.js';
import type { ArchiveStore } from './types.js';

/** The archive configured under `archive:` (fs folder or S3 bucket). */
export function createArchive(config: ArchiveConfig): ArchiveStore {
  return config.kind === 's3' ? new S3Archive(config) : new FsArchive(config.dir);
}
