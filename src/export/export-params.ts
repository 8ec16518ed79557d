/**
 * Params of `feedback.export`, from schedule config (`params:`), `--param key=value` or enqueue
 * data. Lists may be given as arrays or comma-separated strings (`--param mailTo=a@x,b@x`).
 */
import { z } from 'zod';
import { commaList, mailTemplate } from '../delivery/param-schemas.js';
import { DEFAULT_DIGEST_COMMENTS } from '../digest/digest-accumulator.js';
import { MAX_DIGEST_COMMENTS } from '../digest/comment-picker.js';
import { EXPORT_FORMATS } from './export-feedback.js';
import { selectColumns } from './feedback-columns.js';

/** Placeholders the subject and text templates may use. */
export const EXPORT_PLACEHOLDERS = ['schedule', 'start', 'end', 'rows', 'contextGroup', 'type'] as const;

const PATH_SAFE = /^[A-Za-z0-9_.-]+$/;

export const DEFAULT_SUBJECT = 'OX feedback {type} ({contextGroup}) {start} to {end}: {rows} rows';
export const DEFAULT_TEXT = [
  'Feedback export of schedule {schedule}',
  'Context group: {contextGroup}, type: {type}',
  'Window: {start} to {end} (UTC, end excluded)',
  'Rows: {rows}',
  '',
  'Sent by ox-batch.',
].join('\n');

const list = commaList;
const template = (what: string) => mailTemplate(EXPORT_PLACEHOLDERS, what);

export const feedbackExportParams = z
  .object({
    // Both become archive path segments: keep them to what OX uses in practice.
    contextGroup: z.string().regex(PATH_SAFE, 'letters, digits, . _ - (it becomes part of the archive path)').default('default'),
    type: z.string().regex(PATH_SAFE, 'letters, digits, . _ - (it becomes part of the archive path)').default('star-rating-v1'),
    format: z.enum(EXPORT_FORMATS).default('ox-csv'),
    /** `gzip`, or `none`/false; `true` means gzip. */
    compress: z
      .union([z.enum(['gzip', 'none']), z.boolean()])
      .default('none')
      .transform((v) => (v === true || v === 'gzip' ? ('gzip' as const) : ('none' as const))),
    /** gzip level: 1 fastest .. 9 smallest; 6 is zlib's default balance (README: MB/s per level). */
    compressionLevel: z.number().int().min(1).max(9).default(6),
    columns: list(z.string().min(1))
      .optional()
      .superRefine((columns, ctx) => {
        try {
          selectColumns(columns);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }),
    /** ox-csv: OX's delimiter (default `;`); csv: the separator (default `,`). One character. */
    delimiter: z.string().length(1, 'one character, e.g. ; or ,').optional(),
    header: z.boolean().default(true),
    formulaGuard: z.boolean().default(true),
    deliver: list(z.enum(['archive', 'mail']))
      .default(['archive'])
      .refine((d) => d.length > 0, 'at least one of archive, mail'),
    mailTo: list(z.string().min(3)).optional(),
    mailCc: list(z.string().min(3)).default([]),
    via: z.enum(['smtp', 'ox']).default('smtp'),
    /** via ox: ASCII-armoured public key (or a path to one) per recipient address. */
    pgpKeys: z.record(z.string(), z.string().min(1)).default({}),
    subject: template('params.subject').default(DEFAULT_SUBJECT),
    text: template('params.text').default(DEFAULT_TEXT),
    /** The digest (figures, chart, comments) in the mail, the manifest and the result; default: when mailing. */
    digest: z.boolean().optional(),
    /** Comments worth reading shown in the digest (lowest scores first, then the longest). */
    digestComments: z.number().int().min(0).max(MAX_DIGEST_COMMENTS).default(DEFAULT_DIGEST_COMMENTS),
  })
  .superRefine((params, ctx) => {
    // `Question` exists in nps-v1 only: naming it for star-rating-v1 is a mistake, not an empty column.
    try {
      selectColumns(params.columns, params.type);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['columns'], message: (err as Error).message });
    }
  });

export type FeedbackExportParams = z.output<typeof feedbackExportParams>;
