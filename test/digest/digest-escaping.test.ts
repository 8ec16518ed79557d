/**
 * Escaping is a safety property of the digest mail: comments, app, browser, OS and language
 * names come from whoever sent feedback, and the title and intro from config. For any such text
 * (seeded fast-check, FC_SEED to replay), the HTML part parsed by a real HTML parser has only the
 * template's elements and attributes, and each comment reads back exactly as it was written.
 */
import fc from 'fast-check';
import { DomUtils, parseDocument } from 'htmlparser2';
import type { Element } from 'domhandler';
import { describe, expect, it } from 'vitest';
import { DigestAccumulator } from '../../src/digest/digest-accumulator.js';
import { digestHtmlRenderer } from '../../src/digest/digest-html.js';
import type { FeedbackDigest } from '../../src/digest/digest-types.js';

const SEED = Number(process.env.FC_SEED ?? 1414);
/** Every element the template writes. */
const TEMPLATE_TAGS = new Set([
  'html',
  'head',
  'meta',
  'title',
  'body',
  'table',
  'tr',
  'td',
  'th',
  'div',
  'h1',
  'h2',
  'p',
  'img',
  'b',
  'code',
  'br',
  'a',
]);
const TEMPLATE_ATTRIBUTES = new Set([
  'charset',
  'name',
  'content',
  'role',
  'class',
  'width',
  'height',
  'cellpadding',
  'cellspacing',
  'border',
  'align',
  'valign',
  'style',
  'colspan',
  'src',
  'alt',
  'href',
]);

const hostile = fc.string({
  unit: fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '<',
        '>',
        '&',
        '"',
        "'",
        '/',
        '=',
        '\n',
        '\r\n',
        ' ',
        '<script>',
        '</div>',
        '<img src=x onerror=alert(1)>',
        '<!--',
        '-->',
        ']]>',
        '&amp;',
        '&#60;',
        'javascript:',
        '</td></tr></table>',
        '\u2028',
        '\u0000',
      ),
    },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' }) },
  ),
  minLength: 1,
  maxLength: 60,
});

describe('the digest HTML escapes every text it shows (seeded)', () => {
  it('no comment, name, title or intro can add an element or attribute, and comments read back verbatim', async () => {
    const render = await digestHtmlRenderer();
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            comment: hostile,
            app: hostile,
            browser: hostile,
            os: hostile,
            language: hostile,
            score: fc.integer({ min: 1, max: 5 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        hostile,
        hostile,
        async (rows, title, intro) => {
          const accumulator = new DigestAccumulator('star-rating-v1', { comments: 10 });
          rows.forEach((r, i) =>
            accumulator.addRecord({
              date: `2026-11-01 10:00:0${i}`,
              score: String(r.score),
              comment: r.comment,
              app: r.app,
              browser: r.browser,
              operating_system: r.os,
              language: r.language,
            }),
          );
          const digest: FeedbackDigest = {
            window: { start: '2026-11-01T00:00:00.000Z', end: '2026-11-02T00:00:00.000Z' },
            ...accumulator.figures(),
          };
          const html = render(digest, { title, intro, file: { filename: 'x.csv', bytes: 1, sha256: 'ab' } });
          const document = parseDocument(html);
          const elements = DomUtils.findAll(() => true, document.children);
          for (const element of elements) {
            expect(TEMPLATE_TAGS.has(element.name), `element <${element.name}>`).toBe(true);
            for (const attribute of Object.keys(element.attribs))
              expect(TEMPLATE_ATTRIBUTES.has(attribute), `attribute ${attribute} on <${element.name}>`).toBe(true);
          }
          expect(DomUtils.findAll((e) => e.name === 'img', document.children).map((e) => e.attribs.src)).toEqual([
            'cid:digest-chart@ox-batch',
          ]);
          expect(DomUtils.findAll((e) => e.name === 'a', document.children)).toEqual([]);
          // Each shown comment, text and line breaks, is exactly the comment.
          const shown = DomUtils.findAll((e) => (e.attribs.class ?? '').split(' ').includes('comment'), document.children)
            .map((box) => box.children.filter((c): c is Element => c.type === 'tag' && c.name === 'div')[1]!)
            .map((body) =>
              body.children.map((c) => (c.type === 'tag' && (c as Element).name === 'br' ? '\n' : DomUtils.textContent(c))).join(''),
            );
          expect(shown).toEqual(digest.comments.map((c) => c.text));
          expect(DomUtils.textContent(DomUtils.findOne((e) => e.name === 'h1', document.children)!)).toBe(title);
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
  }, 180_000); // 100 juice renders: seconds on a quiet machine, a minute on a loaded one
});
