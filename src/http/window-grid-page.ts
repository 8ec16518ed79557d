/**
 * The window grid's HTML, rendered on the server in one pass (no front-end build), and the small
 * script that opens a cell, runs an action and refreshes the cells from the JSON API. Cells shrink
 * with their number and wrap, so a year of daily windows or a month of hourly ones stays one
 * screen. Every text from the ledger is escaped; the page carries the same-origin token inline.
 */
import { DateTime } from 'luxon';
import type { ScheduleSummary, RunView } from '../queue/window-view.js';
import type { CellState, WindowCell } from '../queue/window-cells.js';
import { SAME_ORIGIN_META } from './same-origin.js';

export interface GridRow {
  summary: ScheduleSummary;
  cells?: WindowCell[];
  runs?: RunView[];
}

export interface GridPage {
  rows: GridRow[];
  range: { from: number; to: number };
  now: number;
  zone: string;
  allowActions: boolean;
  token: string;
  basePath: string;
  apiPath: string;
  renderMs: number;
}

/** State → colour: the legend, the cells and the tests read this one table. */
export const STATE_COLOURS: Record<CellState, string> = {
  done: '#2e9e44',
  failed: '#d93025',
  refused: '#8e24aa',
  running: '#1a73e8',
  queued: '#8ab4f8',
  owed: '#f29900',
  gap: '#795548',
  open: '#dadce0',
  before: '#ffffff',
};

const STATE_MEANING: Record<CellState, string> = {
  done: 'done',
  failed: 'failed (retried by the ticks)',
  refused: 'refused (a guard or bad input)',
  running: 'running',
  queued: 'queued',
  owed: 'owed: closed, not done; the next tick queues it',
  gap: 'gap: older than catchUp; needs a backfill',
  open: 'open: not closed yet',
  before: 'before the schedule\u2019s first window',
};

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

// One Intl formatter per zone: Luxon's toFormat costs ~30 µs a call, and a year of hours has
// 8760 cells with two times each (measured: 600 ms vs 60 ms for 18,000 calls).
const formatters = new Map<string, Intl.DateTimeFormat>();

function when(ms: number | undefined, zone: string): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  let format = formatters.get(zone);
  if (!format) {
    // sv-SE writes ISO-like `2026-11-03 02:00`.
    format = new Intl.DateTimeFormat('sv-SE', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(zone, format);
  }
  return format.format(ms);
}

function sizeClass(count: number): string {
  if (count <= 62) return 'cells-l';
  if (count <= 240) return 'cells-m';
  if (count <= 800) return 'cells-s';
  return 'cells-xs';
}

function cellTitle(cell: WindowCell, zone: string): string {
  const parts = [`${when(cell.start, zone)} \u2013 ${when(cell.end, zone)}`, cell.state];
  if (cell.attempts !== undefined && cell.attempts > 0) parts.push(`${cell.attempts} attempt(s)`);
  if (cell.rows !== undefined) parts.push(`${cell.rows} rows`);
  if (cell.overdue) parts.push('overdue');
  if (cell.error) parts.push(cell.error.slice(0, 300));
  return parts.join(' \u00b7 ');
}

function renderMarkers(row: GridRow, before: number | undefined, after: number, zone: string): string {
  // A marker sits before the first cell starting at or after it.
  const out: string[] = [];
  for (const m of row.summary.markers) {
    for (const [kind, at, label] of [
      ['wm', m.watermark, 'verified archive up to'],
      ['cut', m.cutoff, 'purged from OX before'],
    ] as const) {
      if (at === undefined) continue;
      if ((before === undefined || at > before) && at <= after) {
        out.push(`<i class="m m-${kind}" data-at="${at}" title="${escapeHtml(`${m.purgeScheduleId}: ${label} ${when(at, zone)}`)}"></i>`);
      }
    }
  }
  return out.join('');
}

function renderWindowRow(row: GridRow, allowActions: boolean): string {
  const s = row.summary;
  const cells = row.cells ?? [];
  const zone = s.tz;
  const counts: Partial<Record<CellState, number>> = {};
  for (const c of cells) counts[c.state] = (counts[c.state] ?? 0) + 1;
  const overdue = cells.filter((c) => c.overdue).length;
  const parts: string[] = [];
  const dense = cells.length > 800;
  let previous: number | undefined;
  for (const cell of cells) {
    parts.push(renderMarkers(row, previous, cell.start, zone));
    // Rows of many cells (a year of hours) get their tooltips from the script on hover: the
    // titles would triple the page's size.
    const title = dense ? '' : ` title="${escapeHtml(cellTitle(cell, zone))}"`;
    parts.push(
      `<a class="c s-${cell.state}${cell.overdue ? ' overdue' : ''}" href="#" data-start="${cell.start}" data-state="${cell.state}"${title}></a>`,
    );
    previous = cell.start;
  }
  if (cells.length > 0) parts.push(renderMarkers(row, previous, cells.at(-1)!.end, zone));
  const badges = (['failed', 'refused', 'owed', 'gap', 'running', 'queued'] as const)
    .filter((st) => counts[st])
    .map((st) => `<span class="badge s-${st}">${counts[st]} ${st}</span>`);
  if (overdue > 0) badges.push(`<span class="badge overdue-badge">${overdue} overdue</span>`);
  const markerText = s.markers
    .map(
      (m) =>
        `<span class="marker-text">${escapeHtml(m.purgeScheduleId)}: <i class="m m-wm"></i> verified to ${escapeHtml(when(m.watermark, zone))}` +
        `${m.cutoff !== undefined ? `, <i class="m m-cut"></i> purged before ${escapeHtml(when(m.cutoff, zone))}` : ''} (run ${escapeHtml(when(m.at, zone))})</span>`,
    )
    .join(' ');
  const owedOrGap = (counts.owed ?? 0) + (counts.gap ?? 0);
  const backfill =
    allowActions && owedOrGap > 0
      ? `<button class="act" data-action="backfill-range" data-schedule="${escapeHtml(s.id)}">Backfill ${owedOrGap} owed/gap window(s) in range</button>`
      : '';
  return `<section class="row" data-schedule="${escapeHtml(s.id)}" data-windowed="1">
<div class="head"><h2>${escapeHtml(s.id)}</h2><span class="meta">${escapeHtml(s.job)} \u00b7 ${escapeHtml(s.window ?? '')} ${escapeHtml(s.tz)} \u00b7 ${escapeHtml(s.trigger)}${s.paused ? ' \u00b7 <b>paused</b>' : ''} \u00b7 watermark ${escapeHtml(when(s.watermark === undefined ? undefined : Date.parse(s.watermark), zone))}</span>${badges.join('')}${backfill}</div>
<div class="cells ${sizeClass(cells.length)}">${parts.join('')}</div>
<div class="axis"><span>${escapeHtml(when(cells[0]?.start, zone))}</span><span>${cells.length} windows</span><span>${escapeHtml(when(cells.at(-1)?.end, zone))}</span></div>
${markerText ? `<div class="markers">${markerText}</div>` : ''}
</section>`;
}

function renderRunRow(row: GridRow): string {
  const s = row.summary;
  const runs = [...(row.runs ?? [])].reverse();
  const cells = runs.map(
    (r, i) =>
      `<a class="c s-${r.state}" href="#" data-run="${runs.length - 1 - i}" data-state="${r.state}" title="${escapeHtml(`${when(r.finishedAt, s.tz)} \u00b7 ${r.state}${r.error ? ` \u00b7 ${r.error.slice(0, 300)}` : ''}`)}"></a>`,
  );
  return `<section class="row" data-schedule="${escapeHtml(s.id)}" data-windowed="0">
<div class="head"><h2>${escapeHtml(s.id)}</h2><span class="meta">${escapeHtml(s.job)} \u00b7 ${escapeHtml(s.trigger)} \u00b7 last runs, newest right${s.paused ? ' \u00b7 <b>paused</b>' : ''}</span>${s.lastRunFailure ? `<span class="badge s-${s.lastRunFailure}">last run ${s.lastRunFailure}</span>` : ''}${s.overdueWindows > 0 ? '<span class="badge overdue-badge">overdue</span>' : ''}</div>
<div class="cells cells-l">${cells.join('') || '<span class="none">no runs yet</span>'}</div>
</section>`;
}

const STYLE = `
*{box-sizing:border-box}body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#202124;background:#f8f9fa}
header{display:flex;flex-wrap:wrap;gap:12px;align-items:center;padding:10px 16px;background:#fff;border-bottom:1px solid #dadce0}
header h1{font-size:18px;margin:0 12px 0 0}header form{display:flex;gap:6px;align-items:center}header input{font:inherit;padding:2px 4px}
header a{color:#1a73e8}.quick a{margin-right:6px}
.legend{display:flex;flex-wrap:wrap;gap:10px;padding:6px 16px;font-size:12px}.legend span{display:inline-flex;align-items:center;gap:4px}
.legend i.sw{display:inline-block;width:12px;height:12px;border:1px solid #bbb}
#status{margin:0 16px;padding:0}#status.ok,#status.err{padding:6px 10px;border-radius:4px}#status.ok{background:#e6f4ea}#status.err{background:#fce8e6;color:#a50e0e}
main{padding:6px 16px 16px}.row{background:#fff;border:1px solid #dadce0;border-radius:6px;padding:6px 10px;margin-bottom:8px}
.head{display:flex;flex-wrap:wrap;gap:8px;align-items:baseline}.head h2{font-size:15px;margin:0}.meta{color:#5f6368;font-size:12px}
.badge{font-size:11px;padding:0 6px;border-radius:8px;color:#fff}.overdue-badge{background:#fff;color:#d93025;border:1px solid #d93025}
.cells{display:flex;flex-wrap:wrap;gap:1px;margin:4px 0;align-items:center}
.c{display:block;border:1px solid rgba(0,0,0,.12)}.cells-l .c{width:16px;height:16px}.cells-m .c{width:9px;height:14px}
.cells-s .c{width:5px;height:12px}.cells-xs .c{width:3px;height:10px;border:0}
.c.overdue{outline:2px solid #d93025;outline-offset:-1px}.c.sel{outline:2px solid #202124}
.m{display:inline-block;width:3px;height:18px;margin:0 1px}.m-wm{background:#0b8043}.m-cut{background:#202124}
.markers .m{height:10px;vertical-align:middle}
.axis{display:flex;justify-content:space-between;color:#80868b;font-size:11px}.markers{font-size:12px;color:#3c4043}.none{color:#80868b;font-size:12px}
button.act{font:inherit;font-size:12px;padding:2px 8px;cursor:pointer}
#detail{position:fixed;top:0;right:0;bottom:0;width:min(560px,100%);overflow:auto;background:#fff;border-left:1px solid #dadce0;box-shadow:-2px 0 8px rgba(0,0,0,.1);padding:12px 16px}
#detail h3{margin:0 0 8px;font-size:15px}#detail dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}#detail dt{color:#5f6368}
#detail dd{margin:0;word-break:break-all}#detail table{border-collapse:collapse;width:100%;font-size:12px;margin-top:4px}#detail td,#detail th{border:1px solid #dadce0;padding:2px 4px;text-align:left;vertical-align:top}
#detail pre{background:#f1f3f4;padding:6px;max-height:240px;overflow:auto;font-size:11px}#detail .close{float:right}
${(Object.entries(STATE_COLOURS) as Array<[CellState, string]>).map(([state, colour]) => `.s-${state}{background:${colour}}`).join('')}
.s-gap{background-image:repeating-linear-gradient(45deg,transparent 0 2px,rgba(255,255,255,.35) 2px 4px)}
`;

export function renderGridPage(page: GridPage): string {
  const { range, zone } = page;
  const day = (ms: number) => DateTime.fromMillis(ms, { zone }).toFormat("yyyy-MM-dd'T'HH:mm");
  const quick = [7, 30, 90, 365]
    .map((d) => `<a href="?from=${encodeURIComponent(new Date(page.now - d * 86_400_000).toISOString())}">${d}d</a>`)
    .join('');
  const legend =
    (Object.keys(STATE_COLOURS) as CellState[])
      .map((st) => `<span data-legend="${st}"><i class="sw s-${st}"></i>${escapeHtml(STATE_MEANING[st])}</span>`)
      .join('') +
    '<span><i class="sw" style="outline:2px solid #d93025;outline-offset:-1px"></i>overdue (end + lag + alertAfter passed)</span>' +
    '<span><i class="m m-wm"></i>purge: verified archive up to</span><span><i class="m m-cut"></i>purge: deleted before</span>';
  const rows = page.rows.map((row) => (row.summary.windowed ? renderWindowRow(row, page.allowActions) : renderRunRow(row))).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>ox-batch windows</title>
<meta name="${SAME_ORIGIN_META}" content="${escapeHtml(page.token)}">
<script src="${page.basePath}/same-origin.js"></script>
<style>${STYLE}</style></head>
<body data-api="${escapeHtml(page.apiPath)}" data-actions="${page.allowActions ? '1' : '0'}" data-from="${range.from}" data-to="${range.to}" data-zone="${escapeHtml(zone)}">
<header><h1>ox-batch \u00b7 windows</h1>
<form method="get"><label>from <input type="datetime-local" name="from" value="${day(range.from)}"></label><label>to <input type="datetime-local" name="to" value="${day(range.to)}"></label><button>show</button></form>
<span class="quick">last ${quick}</span><span class="meta">times in each schedule's zone; ${escapeHtml(zone)} for the range \u00b7 rendered in ${page.renderMs} ms \u00b7 ${page.allowActions ? 'actions on' : 'read-only'}</span>
<a href="${escapeHtml(page.basePath.replace(/\/windows$/, '/'))}">queues (Bull Board)</a></header>
<div class="legend">${legend}</div>
<div id="status" role="status"></div>
<main>${rows || '<p>No schedules are configured.</p>'}</main>
<aside id="detail" hidden></aside>
<script src="${page.basePath}/grid.js"></script>
</body></html>
`;
}

/** The page's script: open a cell (JSON API), run an action, refresh the cells every 20 s. */
export const GRID_SCRIPT = `(function () {
  'use strict';
  var body = document.body;
  var api = body.dataset.api;
  var actions = body.dataset.actions === '1';
  var panel = document.getElementById('detail');
  var status = document.getElementById('status');
  var esc = function (v) { return String(v).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); };
  var iso = function (ms) { return ms === undefined || ms === null ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z'); };
  var dur = function (ms) { return ms === undefined ? '-' : ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(1) + ' s'; };
  var row = function (k, v) { return v === undefined || v === null || v === '' ? '' : '<dt>' + esc(k) + '</dt><dd>' + v + '</dd>'; };
  function say(text, ok) { status.textContent = text; status.className = ok ? 'ok' : 'err'; }
  function json(res) { return res.json().then(function (b) { if (!res.ok) throw new Error(b.error || res.statusText); return b; }); }
  function attemptsTable(attempts) {
    if (!attempts || !attempts.length) return '';
    return '<h4>Attempts</h4><table><tr><th>#</th><th>error</th><th>OX code</th><th>error_desc</th><th>error_id</th></tr>' + attempts.map(function (a) {
      var ox = a.oxError || {};
      return '<tr><td>' + esc(a.attempt) + '</td><td>' + esc(a.error) + '</td><td>' + esc(ox.code || '') + '</td><td>' + esc(ox.errorDesc || '') + '</td><td>' + esc(ox.errorId || '') + '</td></tr>';
    }).join('') + '</table>';
  }
  function showWindow(d) {
    var a = d.archive;
    var archive = a ? (a.link ? '<a href="' + esc(a.link) + '" rel="noreferrer">' + esc(a.location) + '</a> (link valid for archive.linkTtl)' : esc(a.location)) + (a.linkError ? ' (' + esc(a.linkError) + ')' : '') : undefined;
    var mails = d.mails && d.mails.length ? '<h4>Mails</h4><table><tr><th>recipient</th><th>Message-ID</th><th>state</th><th>when</th></tr>' + d.mails.map(function (m) {
      return '<tr><td>' + esc(m.recipient || m.id) + '</td><td>' + esc(m.messageId || (m.detail && m.detail.via) || '') + '</td><td>' + esc(m.state || 'sent') + '</td><td>' + esc(iso(m.at)) + '</td></tr>';
    }).join('') + '</table>' : '';
    var buttons = '';
    if (actions && (d.state === 'failed' || d.state === 'refused')) buttons += '<button class="act" data-action="retry" data-schedule="' + esc(d.scheduleId) + '" data-start="' + d.start + '">Retry this window</button> ';
    if (actions && (d.state === 'owed' || d.state === 'gap' || d.state === 'open')) buttons += '<button class="act" data-action="backfill-one" data-schedule="' + esc(d.scheduleId) + '" data-start="' + d.start + '" data-end="' + d.end + '">Backfill this window</button>';
    panel.innerHTML = '<button class="close" data-action="close">close</button><h3>' + esc(d.scheduleId) + ' \\u00b7 <span class="state s-' + esc(d.state) + '" style="color:#fff;padding:0 6px;border-radius:6px">' + esc(d.state) + '</span></h3>' +
      '<dl>' + row('window', esc(d.label)) + row('closes at', esc(iso(d.closesAt))) + row('overdue at', esc(iso(d.overdueAt)) + (d.overdue ? ' <b style="color:#d93025">overdue</b>' : '')) +
      row('attempts', esc(d.attempts === undefined ? 0 : d.attempts)) + row('rows', d.rows === undefined ? undefined : esc(d.rows)) + row('bytes', d.bytes === undefined ? undefined : esc(d.bytes)) +
      row('sha256', d.sha256 && esc(d.sha256)) + row('archive', archive) + row('verified at', a && a.verifiedAt && esc(a.verifiedAt)) + row('manifest key', a && a.manifestKey && esc(a.manifestKey)) +
      row('queued', d.queuedAt && esc(iso(d.queuedAt))) + row('started', d.startedAt && esc(iso(d.startedAt))) + row('finished', d.finishedAt && esc(iso(d.finishedAt))) + row('duration', d.durationMs !== undefined ? esc(dur(d.durationMs)) : undefined) +
      row('last error', d.error && esc(d.error)) + row('BullMQ job', d.job && esc(d.job.id + ' (' + d.job.state + ', ' + d.job.attemptsMade + ' attempt(s)' + (d.job.processedOn && d.job.finishedOn ? ', last ' + dur(d.job.finishedOn - d.job.processedOn) : '') + ')')) + '</dl>' +
      (buttons ? '<p>' + buttons + '</p>' : '') + attemptsTable(d.attemptErrors) + mails +
      (d.manifest ? '<h4>Manifest</h4><pre>' + esc(JSON.stringify(d.manifest, null, 2)) + '</pre>' : '') + (d.manifestError ? '<p>manifest: ' + esc(d.manifestError) + '</p>' : '') +
      (d.result ? '<h4>Result</h4><pre>' + esc(JSON.stringify(d.result, null, 2)) + '</pre>' : '');
    panel.hidden = false;
  }
  function showRun(id, r) {
    panel.innerHTML = '<button class="close" data-action="close">close</button><h3>' + esc(id) + ' \\u00b7 <span class="state s-' + esc(r.state) + '" style="color:#fff;padding:0 6px;border-radius:6px">' + esc(r.state) + '</span></h3><dl>' +
      row('started', esc(iso(r.startedAt))) + row('finished', esc(iso(r.finishedAt))) + row('duration', esc(dur(r.durationMs))) + row('error', r.error && esc(r.error)) +
      row('OX code', r.oxError && r.oxError.code && esc(r.oxError.code)) + row('error_desc', r.oxError && r.oxError.errorDesc && esc(r.oxError.errorDesc)) + row('error_id', r.oxError && r.oxError.errorId && esc(r.oxError.errorId)) + '</dl>' +
      (r.result ? '<h4>Result</h4><pre>' + esc(JSON.stringify(r.result, null, 2)) + '</pre>' : '');
    panel.hidden = false;
  }
  function select(cell) {
    var old = document.querySelector('.c.sel');
    if (old) old.classList.remove('sel');
    cell.classList.add('sel');
  }
  function refresh() {
    document.querySelectorAll('section.row[data-windowed="1"]').forEach(function (section) {
      var id = section.dataset.schedule;
      fetch(api + '/' + encodeURIComponent(id) + '/windows?from=' + body.dataset.from + '&to=' + body.dataset.to).then(json).then(function (data) {
        var byStart = {};
        data.cells.forEach(function (c) { byStart[c.start] = c; });
        section.querySelectorAll('.c[data-start]').forEach(function (el) {
          var c = byStart[el.dataset.start];
          if (!c || c.state === el.dataset.state) return;
          el.className = 'c s-' + c.state + (c.overdue ? ' overdue' : '') + (el.classList.contains('sel') ? ' sel' : '');
          el.dataset.state = c.state;
          el.title = iso(c.start) + ' \\u00b7 ' + c.state + (c.error ? ' \\u00b7 ' + c.error : '');
        });
      }).catch(function () { /* the next refresh tries again */ });
    });
  }
  function act(button) {
    var id = button.dataset.schedule;
    var request;
    if (button.dataset.action === 'retry') request = fetch(api + '/' + encodeURIComponent(id) + '/windows/' + button.dataset.start + '/retry', { method: 'POST' });
    else {
      var range = button.dataset.action === 'backfill-one' ? { from: Number(button.dataset.start), to: Number(button.dataset.end) } : { from: Number(body.dataset.from), to: Number(body.dataset.to) };
      request = fetch(api + '/' + encodeURIComponent(id) + '/backfill', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(range) });
    }
    button.disabled = true;
    request.then(json).then(function (result) { say(result.message, true); refresh(); }, function (err) { say(err.message, false); })
      .then(function () { button.disabled = false; });
  }
  document.addEventListener('mouseover', function (event) {
    var cell = event.target instanceof Element ? event.target.closest('a.c[data-start]') : null;
    if (cell && !cell.title) cell.title = iso(Number(cell.dataset.start)) + ' \u00b7 ' + cell.dataset.state;
  });
  document.addEventListener('click', function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var button = target.closest('button[data-action]');
    if (button) {
      event.preventDefault();
      if (button.dataset.action === 'close') { panel.hidden = true; return; }
      act(button);
      return;
    }
    var cell = target.closest('a.c');
    if (!cell) return;
    event.preventDefault();
    select(cell);
    var section = cell.closest('section.row');
    var id = section.dataset.schedule;
    if (cell.dataset.start) {
      fetch(api + '/' + encodeURIComponent(id) + '/windows/' + cell.dataset.start).then(json).then(showWindow, function (err) { say(err.message, false); });
    } else {
      fetch(api + '/' + encodeURIComponent(id) + '/runs').then(json).then(function (data) { showRun(id, data.runs[Number(cell.dataset.run)]); }, function (err) { say(err.message, false); });
    }
  });
  setInterval(refresh, 20000);
})();
`;
