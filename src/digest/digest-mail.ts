/**
 * Turns a window's plain mail into the digest mail: the figures appended to the text part (which
 * is also the body OX's `send` mails), and for SMTP an HTML part with the chart as an inline PNG.
 * The window's file stays attached (or linked) exactly as before: deliverArtifact adds it.
 */
import type { ArtifactMail, InlineImage } from '../delivery/deliver-artifact.js';
import { digestChartPng } from './digest-chart.js';
import { CHART_CID, digestHtmlRenderer } from './digest-html.js';
import { digestText } from './digest-text.js';
import type { CompletedDigest } from './window-digest.js';

export function withDigest(mail: ArtifactMail, completed: CompletedDigest | undefined): ArtifactMail {
  if (!completed) return mail;
  const digest = completed.digest;
  if (!digest) return { ...mail, text: `${mail.text.trimEnd()}\n\n(No digest for this window: ${completed.unavailable}.)\n` };
  const text = `${mail.text.trimEnd()}\n\n${digestText(digest)}`;
  if (mail.via === 'ox') return { ...mail, text };
  return {
    ...mail,
    text,
    // Rendered when the mail is sent (after the recipients are claimed), not before.
    html: async (file) => {
      const [render, png] = await Promise.all([digestHtmlRenderer(), digest.rows > 0 ? digestChartPng(digest) : undefined]);
      const inline: InlineImage[] = png ? [{ cid: CHART_CID, filename: 'digest-chart.png', contentType: 'image/png', content: png }] : [];
      return { html: render(digest, { title: mail.subject, intro: mail.text, file, chart: png !== undefined }), inline };
    },
  };
}
