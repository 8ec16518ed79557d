#!/usr/bin/env node
/**
 * Renders the HTML part of a mail (.eml) in headless Chromium, showing its inline images the way a
 * mail client does (cid: → the related part), and writes a full-page PNG screenshot. Used for the
 * pictures in docs/ from the mails `npm run demo` writes:
 *
 *   node scripts/mail-screenshot.mjs var/mail/<file>.eml docs/feedback-digest.png
 *
 * Needs Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH) and the dev dependencies.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { simpleParser } from 'mailparser';
import { chromium } from 'playwright-core';

const [eml, png] = process.argv.slice(2);
if (!eml || !png) {
  process.stderr.write('usage: node scripts/mail-screenshot.mjs MAIL.eml OUT.png\n');
  process.exit(2);
}
const mail = await simpleParser(await readFile(eml), { keepCidLinks: true });
if (typeof mail.html !== 'string') {
  process.stderr.write(`${eml}: the mail has no HTML part\n`);
  process.exit(2);
}
let html = mail.html;
for (const part of mail.attachments) {
  if (part.cid) html = html.replaceAll(`cid:${part.cid}`, `data:${part.contentType};base64,${part.content.toString('base64')}`);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 720, height: 900 } });
  await page.setContent(html, { waitUntil: 'load' });
  await writeFile(png, await page.screenshot({ fullPage: true }));
  process.stdout.write(`${png}: ${mail.subject}\n`);
} finally {
  await browser.close();
}
