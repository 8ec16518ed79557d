/**
 * Deterministic synthetic feedback: row i of a segment is computed from (seed, i), so a
 * million-row segment costs a few pools of strings plus its deleted ranges. Dates rise with the
 * index (with jitter), which makes every time filter an index range found by binary search.
 *
 * The values look like real App Suite feedback: mostly empty or short comments, some with quotes,
 * line breaks, `;`, non-ASCII text and formula-like prefixes, and a few over OX's limits.
 */
import { NPS_LAYOUT, pseudonymousUser, storedValue } from './feedback-fields.js';
import { DeletedRanges, type FeedbackSource, type IndexRange } from './feedback-source.js';
import type { RowFormat } from './ox-csv-writer.js';
import { createRandom, indexHash, mix32, pick } from './prng.js';

const COMMENT_FRAGMENTS = [
  'Great app, love the new calendar view!',
  'Works fine; only the search is slow.',
  'Die Suche dauert zu lange, sonst prima.',
  'Schöne Oberfläche – aber wo ist der Papierkorb?',
  "Très bien, merci ! Mais l'export PDF ne marche pas.",
  'Muy útil, pero la sincronización falla a veces.',
  '使いやすいです。',
  'Отличная почта, спасибо.',
  'The "Send" button is hard to find.',
  'Please bring back the "classic" theme',
  'Line one\nline two',
  'Windows line\r\nbreak inside',
  'old mac\rbreak',
  '=HYPERLINK("http://evil.example/","click me")',
  "=cmd|' /C calc'!A0",
  '+49 30 1234567 call me back',
  '-1 for the new layout',
  '@support please fix calendar sync',
  '|pipe|separated|text',
  'a|b|c in the middle',
  'Mail sync with Outlook fails; calendar is OK',
  'Attachments > 25 MB are rejected',
  'Dark mode please 🌙',
  '👍👍👍',
  'Tab\tseparated\tvalues',
  'Drive upload stalls at 99 %',
  'Portal widgets reorder themselves after login',
  'nice',
  'ok',
  'Slow on mobile.',
  'Why do I have to log in twice?',
  'Spam filter moved my invoices to junk; please fix.',
  'Kalender-Einladungen kommen doppelt an.',
  'Address book import (vCard) loses birthdays',
  '  leading and trailing spaces  ',
  'semicolon;inside;text',
  "It's fine, I guess",
];

const APPS = ['mail', 'calendar', 'contacts', 'drive', 'portal', 'tasks', 'general', 'io.ox/mail', 'io.ox/calendar'];
const ENTRY_POINTS = ['main', 'sidebar', 'settings', 'toolbar', 'dropdown', 'portal-widget', 'app-launcher'];
const RESOLUTIONS = ['1920x1080', '1366x768', '1536x864', '2560x1440', '1440x900', '3840x2160', '390x844', '412x915', '768x1024'];
const LANGUAGES = ['en_US', 'de_DE', 'fr_FR', 'es_ES', 'it_IT', 'nl_NL', 'ja_JP', 'pl_PL', 'en_GB', 'pt_BR'];
const SERVER_VERSIONS = ['7.10.5-Rev47', '7.10.6-Rev30', '7.10.6-Rev41', '8.0.0-Rev12'];
const CLIENT_VERSIONS = ['7.10.5-45', '7.10.6-31', '7.10.6-42', '8.0.0-13'];

interface ClientProfile {
  operating_system: string;
  browser: string;
  browser_version: string;
  user_agent: string;
}

const CLIENT_PROFILES: ClientProfile[] = [
  {
    operating_system: 'Windows',
    browser: 'Chrome',
    browser_version: '119.0',
    user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36',
  },
  {
    operating_system: 'Windows',
    browser: 'Edge',
    browser_version: '119.0',
    user_agent:
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 Edg/119.0.2151.72',
  },
  {
    operating_system: 'Windows',
    browser: 'Firefox',
    browser_version: '120.0',
    user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0',
  },
  {
    operating_system: 'MacOS',
    browser: 'Safari',
    browser_version: '17.1',
    user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
  },
  {
    operating_system: 'MacOS',
    browser: 'Chrome',
    browser_version: '118.0',
    user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36',
  },
  {
    operating_system: 'Linux',
    browser: 'Firefox',
    browser_version: '115.0',
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0',
  },
  {
    operating_system: 'iOS',
    browser: 'Safari',
    browser_version: '17.0',
    user_agent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
  },
  {
    operating_system: 'Android',
    browser: 'Chrome',
    browser_version: '119.0',
    user_agent: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36',
  },
  // Over OX's 200-character user_agent limit: exported truncated with " ...".
  {
    operating_system: 'Windows',
    browser: 'Chrome',
    browser_version: '119.0',
    user_agent:
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 CorporateToolbar/4.2.1 (build 7781; managed; policy=strict) ExtraPlugin/1.0 AnotherExtension/2.3.4',
  },
];

/** Stored values of one cell (by raw key) with their segments built once per row format. */
class SegmentPool {
  private readonly byFormat = new Map<string, Buffer[]>();
  constructor(
    private readonly key: string,
    readonly values: readonly string[],
  ) {}

  in(format: RowFormat): Buffer[] {
    let list = this.byFormat.get(format.id);
    if (!list) {
      list = this.values.map((v) => format.segment(this.key, v));
      this.byFormat.set(format.id, list);
    }
    return list;
  }
}

/**
 * Joined segments per row format, filled on first use of a key. Only the most recently used
 * formats are kept (a delimiter nobody asks for again should not pin ~20 MB of row tails).
 */
class JoinedSegments {
  private readonly byFormat = new Map<string, Array<Buffer | undefined>>();
  constructor(private readonly maxFormats = 3) {}

  for(format: RowFormat): Array<Buffer | undefined> {
    let list = this.byFormat.get(format.id);
    if (list) {
      this.byFormat.delete(format.id); // re-insert: Map order is our recency order
    } else {
      list = [];
      if (this.byFormat.size >= this.maxFormats) this.byFormat.delete(this.byFormat.keys().next().value!);
    }
    this.byFormat.set(format.id, list);
    return list;
  }
}

/** Everything one export needs per row, looked up once per export instead of once per row. */
interface FormatTables {
  format: RowFormat;
  comments: Buffer[];
  /** Joined row tails of this segment, by era * VARIANTS_PER_ERA + variant. */
  tails: Array<Buffer | undefined>;
}

/** Distinct row contents per version era (a power of two). */
const VARIANTS_PER_ERA = 16384;

function buildComments(seed: number): string[] {
  const random = createRandom(seed ^ 0x5eed);
  const comments: string[] = [];
  for (let i = 0; i < 600; i++) {
    const parts = 1 + Math.floor(random() * random() * 3);
    const chosen: string[] = [];
    for (let p = 0; p < parts; p++) chosen.push(pick(COMMENT_FRAGMENTS, random));
    comments.push(chosen.join(random() < 0.3 ? '\n' : ' '));
  }
  // One essay over OX's 20000-character comment limit.
  comments.push(`Long story: ${'The calendar forgets my reminders. '.repeat(620)}`);
  return comments.map((c) => storedValue('comment', c));
}

const commentPools = new Map<number, SegmentPool>();
function commentPool(seed: number): SegmentPool {
  let pool = commentPools.get(seed);
  if (!pool) commentPools.set(seed, (pool = new SegmentPool('comment', buildComments(seed))));
  return pool;
}

const STARS = new SegmentPool('score', ['1', '2', '3', '4', '5']);
/** Upper bounds of a roll 0..255 per star, 1..5: mostly 4 and 5 stars. */
const STAR_ROLLS = [13, 33, 72, 154, 256];
const NPS_SCORES = new SegmentPool(
  'score',
  Array.from({ length: 11 }, (_, i) => String(i)),
);
/** Upper bounds of a roll 0..255 per NPS score 0..10: ~20 % detractors, ~27 % passives, ~53 % promoters. */
const NPS_ROLLS = [8, 11, 15, 20, 27, 36, 50, 80, 120, 182, 256];
const QUESTIONS = new SegmentPool('questionid', ['0', '1', '2', '3']);
const NO_COMMENT = new SegmentPool('comment', ['']);
const APP_POOL = new SegmentPool(
  'app',
  APPS.map((v) => storedValue('app', v)),
);
const ENTRY_POOL = new SegmentPool(
  'entry_point',
  ENTRY_POINTS.map((v) => storedValue('entry_point', v)),
);
const PROFILE_POOLS = (['operating_system', 'browser', 'browser_version', 'user_agent'] as const).map(
  (field) =>
    new SegmentPool(
      field,
      CLIENT_PROFILES.map((p) => storedValue(field, p[field])),
    ),
);
const RESOLUTION_POOL = new SegmentPool(
  'screen_resolution',
  RESOLUTIONS.map((v) => storedValue('screen_resolution', v)),
);
const LANGUAGE_POOL = new SegmentPool(
  'language',
  LANGUAGES.map((v) => storedValue('language', v)),
);
const SERVER_VERSION_POOL = new SegmentPool('server_version', SERVER_VERSIONS);
const CLIENT_VERSION_POOL = new SegmentPool(
  'client_version',
  CLIENT_VERSIONS.map((v) => storedValue('client_version', v)),
);

function rolled(roll: number, bounds: readonly number[]): number {
  let i = 0;
  while (roll >= bounds[i]!) i++;
  return i;
}

export interface GeneratedSegmentOptions {
  rows: number;
  from: number;
  to: number;
  seed: number;
  /** star-rating-v1 (default) or nps-v1: its columns and score range. */
  type?: string;
}

export class GeneratedFeedbackSegment implements FeedbackSource {
  readonly length: number;
  private readonly from: number;
  private readonly step: number;
  private readonly jitter: boolean;
  private readonly seedMix: number;
  private readonly comments: SegmentPool;
  private readonly userCount: number;
  private readonly nps: boolean;
  private readonly tails = new JoinedSegments();
  private readonly deleted = new DeletedRanges();
  private lastTables: FormatTables | undefined;

  constructor(options: GeneratedSegmentOptions) {
    if (!Number.isInteger(options.rows) || options.rows < 0) throw new TypeError('generateFeedback: rows must be an integer >= 0');
    if (!(options.to > options.from)) throw new TypeError('generateFeedback: `to` must be after `from`');
    this.length = options.rows;
    this.from = Math.trunc(options.from);
    this.step = (Math.trunc(options.to) - this.from) / Math.max(1, options.rows);
    // Jitter stays below one step, so it can never reorder rows; below 2 ms per row it would
    // vanish in rounding anyway, so it is only used above that.
    this.jitter = this.step >= 2;
    this.seedMix = mix32(options.seed ^ 0x0f1e2d3c);
    this.comments = commentPool(options.seed);
    this.userCount = Math.min(200_000, Math.max(50, Math.ceil(options.rows / 20)));
    this.nps = options.type === NPS_LAYOUT.type;
  }

  dateAt(index: number): number {
    const offset = this.jitter ? index + (indexHash(this.seedMix ^ 0x3c3c, index) / 4294967296) * 0.9 : index;
    return this.from + Math.floor(offset * this.step);
  }

  /**
   * The cells after Date as ONE pre-joined segment: a row's content is one of
   * VARIANTS_PER_ERA tails per version era, picked by the row's hash, so an export row costs a
   * date and a single copy (dates stay individual per row).
   */
  segmentsAt(index: number, format: RowFormat, out: Buffer[]): number {
    const t = this.tables(format);
    const era = Math.min(SERVER_VERSIONS.length - 1, Math.floor((index / Math.max(1, this.length)) * SERVER_VERSIONS.length));
    const key = era * VARIANTS_PER_ERA + (indexHash(this.seedMix, index) & (VARIANTS_PER_ERA - 1));
    out[0] = t.tails[key] ??= this.buildTail(t, mix32(this.seedMix ^ Math.imul(key + 1, 0x9e3779b1)), era);
    return 1;
  }

  private buildTail(t: FormatTables, h: number, era: number): Buffer {
    const { format } = t;
    const h2 = mix32(h ^ 0xa5a5a5a5);
    const scoreRoll = h & 0xff;
    const commentRoll = (h >>> 8) & 0x3ff;
    const profile = h2 % CLIENT_PROFILES.length;
    const u = mix32(h + 1) % this.userCount;
    // Servers get upgraded over time; some clients lag one version behind.
    const clientVersion = Math.max(0, era - ((h2 >>> 28) & 1));
    const score = this.nps
      ? [NPS_SCORES.in(format)[rolled(scoreRoll, NPS_ROLLS)]!, QUESTIONS.in(format)[mix32(h ^ 0x5a5a5a5a) & 3]!]
      : [STARS.in(format)[rolled(scoreRoll, STAR_ROLLS)]!];
    return Buffer.concat([
      ...score,
      commentRoll < 400 ? NO_COMMENT.in(format)[0]! : t.comments[mix32(h2 + commentRoll) % t.comments.length]!,
      APP_POOL.in(format)[(h2 >>> 8) % APPS.length]!,
      ENTRY_POOL.in(format)[(h2 >>> 12) % ENTRY_POINTS.length]!,
      ...PROFILE_POOLS.map((pool) => pool.in(format)[profile]!),
      RESOLUTION_POOL.in(format)[(h2 >>> 16) % RESOLUTIONS.length]!,
      LANGUAGE_POOL.in(format)[(h2 >>> 20) % LANGUAGES.length]!,
      format.segment('user', pseudonymousUser(1 + Math.floor(u / 250), 3 + (u % 250))),
      SERVER_VERSION_POOL.in(format)[era]!,
      CLIENT_VERSION_POOL.in(format)[clientVersion]!,
    ]);
  }

  private tables(format: RowFormat): FormatTables {
    const cached = this.lastTables;
    if (cached && (cached.format === format || cached.format.id === format.id)) return cached;
    const tables: FormatTables = { format, comments: this.comments.in(format), tails: this.tails.for(format) };
    this.lastTables = tables;
    return tables;
  }

  liveRanges(lo: number, hi: number): IndexRange[] {
    return this.deleted.subtractFrom(lo, hi);
  }

  deleteRange(lo: number, hi: number): void {
    this.deleted.add(lo, hi);
  }
}
