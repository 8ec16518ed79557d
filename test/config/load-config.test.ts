import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { InputError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'oxb-config-'));
function yamlFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
function failure(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('loadConfig', () => {
  it('gives usable defaults from config/default.yaml alone', () => {
    const config = loadConfig({ env: {} });
    expect(config.ox.url).toBe('http://127.0.0.1:8009');
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'oxb' });
    expect(config.ox.timeouts.bodyMs).toBe(300_000);
    expect(config.archive.kind).toBe('fs');
    expect(config.ox.password).toBeUndefined();
  });

  it('layers file over defaults and environment over file', () => {
    const file = yamlFile(
      'layers.yaml',
      'timezone: Europe/Berlin\nox:\n  url: http://from-file:8009\n  user: fileuser\nworker:\n  concurrency: 9\n',
    );
    const config = loadConfig({ file, env: { OX_URL: 'http://from-env:8009' } });
    expect(config.ox.url).toBe('http://from-env:8009');
    expect(config.ox.user).toBe('fileuser');
    expect(config.worker.concurrency).toBe(9);
    expect(config.timezone).toBe('Europe/Berlin');
  });

  it('reads the file named by OXB_CONFIG', () => {
    const file = yamlFile('oxb-config.yaml', 'redis:\n  prefix: viaenv\n');
    expect(loadConfig({ env: { OXB_CONFIG: file } }).redis.prefix).toBe('viaenv');
  });

  it('reads secrets from NAME_FILE', () => {
    const secret = yamlFile('ox-password', 's3cr3t\n');
    const config = loadConfig({ env: { OX_PASSWORD_FILE: secret, SMTP_URL_FILE: yamlFile('smtp', 'smtp://u:p@mail:25') } });
    expect(config.ox.password).toBe('s3cr3t');
    expect(config.mail.smtp).toBe('smtp://u:p@mail:25');
  });

  it('expands ${VAR} and ${VAR:-fallback} in YAML values', () => {
    const file = yamlFile(
      'expand.yaml',
      'ox:\n  admin:\n    contexts:\n      "42": { user: oxadmin, password: "${CTX42_PW}" }\nmail:\n  from: "${FROM:-batch@example.com}"\n',
    );
    const config = loadConfig({ file, env: { CTX42_PW: 'pw42' } });
    expect(config.ox.admin.contexts['42']).toEqual({ user: 'oxadmin', password: 'pw42' });
    expect(config.mail.from).toBe('batch@example.com');
  });

  it('names the key and the unset variable of an unexpandable reference', () => {
    const file = yamlFile('unset.yaml', 'ox:\n  password: "${NOPE}"\n');
    expect(failure(() => loadConfig({ file, env: {} })).message).toMatch(/ox\.password refers to \$\{NOPE\}, which is not set/);
  });

  it('turns MAIL_TO into a list and parses numbers and booleans from the environment', () => {
    const config = loadConfig({ env: { MAIL_TO: 'a@x.org, b@y.org', OXB_HTTP_PORT: '9999', S3_FORCE_PATH_STYLE: 'true' } });
    expect(config.mail.to).toEqual(['a@x.org', 'b@y.org']);
    expect(config.http.port).toBe(9999);
    expect(config.archive.forcePathStyle).toBe(true);
  });

  it('rejects a bad value naming key, origin, value and expectation', () => {
    const err = failure(() => loadConfig({ env: { OXB_TIMEZONE: 'Europe/Berln' } }));
    expect(err.message).toBe('config: timezone (from OXB_TIMEZONE) = Europe/Berln: expected an IANA time zone like Europe/Berlin or UTC');
    expect(err.exitCode).toBe(2);
  });

  it('names the file a bad value came from', () => {
    const file = yamlFile('bad-port.yaml', 'http:\n  port: high\n');
    expect(failure(() => loadConfig({ file, env: {} })).message).toMatch(/^config: http\.port \(from .*bad-port\.yaml\) = high: /);
  });

  it('never shows a secret in an error', () => {
    const err = failure(() => loadConfig({ env: { REDIS_URL: 'http://user:hunter2@redis:6379' } }));
    expect(err.message).not.toContain('hunter2');
    expect(err.message).toContain('redis.url');
    const file = yamlFile('bad-secret.yaml', 'ox:\n  admin:\n    contexts:\n      "7": { user: admin, password: 12345 }\n');
    const err2 = failure(() => loadConfig({ file, env: {} }));
    expect(err2.message).toContain('ox.admin.contexts.7.password');
    expect(err2.message).not.toContain('12345');
  });

  it('rejects bad schedules naming schedule and field', () => {
    expect(
      failure(() => loadConfig({ env: {}, overrides: { schedules: { nightly: { job: 'feedback.export', cron: 'not a cron' } } } })).message,
    ).toMatch(/^config: schedules\.nightly\.cron .*not a cron pattern/);
    expect(failure(() => loadConfig({ env: {}, overrides: { schedules: { nightly: { job: 'x', every: 'soon' } } } })).message).toMatch(
      /^config: schedules\.nightly\.every .*expected a duration/,
    );
    expect(
      failure(() => loadConfig({ env: {}, overrides: { schedules: { nightly: { job: 'x', cron: '0 2 * * *', tz: 'Mars/Base' } } } }))
        .message,
    ).toMatch(/^config: schedules\.nightly\.tz /);
  });

  it('rejects broken YAML and duplicate keys with the file name', () => {
    expect(failure(() => loadConfig({ file: yamlFile('broken.yaml', 'ox: [unclosed\n'), env: {} })).message).toMatch(
      /broken\.yaml: not valid YAML/,
    );
    expect(failure(() => loadConfig({ file: yamlFile('dupe.yaml', 'timezone: UTC\ntimezone: UTC\n'), env: {} })).message).toMatch(
      /dupe\.yaml: not valid YAML/,
    );
    expect(failure(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {} })).message).toMatch(
      /missing\.yaml: cannot be read \(ENOENT\)/,
    );
  });

  it('requires a bucket for the s3 archive', () => {
    expect(failure(() => loadConfig({ env: { OXB_ARCHIVE: 's3' } })).message).toMatch(
      /^config: archive\.bucket .*required when archive\.kind is s3/,
    );
    expect(loadConfig({ env: { OXB_ARCHIVE: 's3', S3_BUCKET: 'feedback' } }).archive.bucket).toBe('feedback');
  });
});
