/**
 * The mail side of `feedback.export`: recipients (params, else config `mail.to`), PGP keys for
 * `via: ox`, and subject/text rendered from the templates once the row count is known.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import type { ArtifactMail } from '../delivery/deliver-artifact.js';
import { renderTemplate } from '../delivery/mail-template.js';
import { InputError } from '../errors.js';
import type { FeedbackExportParams } from './export-params.js';

export interface ExportMailing {
  forRows(rows: number): ArtifactMail;
}

/** Prepared before the export runs, so bad mail settings fail before anything is fetched. */
export async function exportMailing(
  params: FeedbackExportParams,
  schedule: string,
  window: { start: number; end: number },
  config: Config,
): Promise<ExportMailing> {
  const to = params.mailTo?.length ? params.mailTo : config.mail.to;
  if (to.length === 0) throw new InputError('params.mailTo: no recipients (set mailTo, or mail.to / MAIL_TO in config)');
  if (params.via === 'smtp' && !config.mail.smtp) throw new InputError('mail.smtp (SMTP_URL) is not set: params.via smtp needs it');
  const pgpKeys = params.via === 'ox' ? await readPgpKeys(params.pgpKeys) : undefined;
  return {
    forRows(rows) {
      const values = {
        schedule,
        start: isoSeconds(window.start),
        end: isoSeconds(window.end),
        rows,
        contextGroup: params.contextGroup,
        type: params.type,
      };
      return {
        via: params.via,
        to,
        cc: params.mailCc,
        subject: renderTemplate(params.subject, values, 'params.subject'),
        text: renderTemplate(params.text, values, 'params.text'),
        ...(params.via === 'ox'
          ? { ox: { contextGroup: params.contextGroup, type: params.type, compress: params.compress === 'gzip', pgpKeys } }
          : {}),
      };
    },
  };
}

/** Each value is an armoured key, or the path of a file holding one (a mounted secret). */
async function readPgpKeys(keys: Readonly<Record<string, string>>): Promise<Record<string, string>> {
  const resolved: Record<string, string> = {};
  for (const [address, value] of Object.entries(keys)) {
    if (value.includes('-----BEGIN PGP')) {
      resolved[address] = value;
      continue;
    }
    try {
      resolved[address] = await readFile(value, 'utf8');
    } catch (err) {
      throw new InputError(`params.pgpKeys.${address}: cannot read key file ${value} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
        cause: err,
      });
    }
  }
  return resolved;
}

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
