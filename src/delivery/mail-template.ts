/**
 * Subject and body templates of job mails: `{name}` placeholders filled from the job's values.
 * An unknown placeholder is a typo in config and fails with the list of known names.
 */
import { InputError } from '../errors.js';

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9_]*)\}/g;

export function renderTemplate(template: string, values: Readonly<Record<string, string | number>>, what: string): string {
  assertKnownPlaceholders(template, Object.keys(values), what);
  return template.replace(PLACEHOLDER, (_m, name: string) => String(values[name]));
}

export function assertKnownPlaceholders(template: string, known: readonly string[], what: string): void {
  for (const [, name] of template.matchAll(PLACEHOLDER)) {
    if (!known.includes(name!)) {
      throw new InputError(`${what}: unknown placeholder {${name}} in "${template}" (known: ${known.map((k) => `{${k}}`).join(' ')})`);
    }
  }
}
