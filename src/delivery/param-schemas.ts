/**
 * Zod pieces shared by the params of jobs that deliver artifacts (feedback.export, passwd.audit).
 */
import { z } from 'zod';
import { assertKnownPlaceholders } from './mail-template.js';

/** A YAML list, or a comma-separated string as typed in `--param deliver=archive,mail`. */
export const commaList = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (value) =>
      typeof value === 'string'
        ? value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : value,
    z.array(item),
  );

/** A subject/text template whose placeholders must all be among `known`. */
export const mailTemplate = (known: readonly string[], what: string) =>
  z.string().superRefine((text, ctx) => {
    try {
      assertKnownPlaceholders(text, known, what);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
