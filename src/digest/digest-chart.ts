/**
 * The digest's chart as a PNG for mail (Gmail and Outlook show no SVG): ECharts renders it
 * server-side to SVG, @resvg/resvg-js rasterises that with the DejaVu Sans font shipped as an npm
 * package (a container image has no system fonts). Left: this window's score distribution with
 * the previous window's beside it; right: the trend of the headline figure (mean score, or NPS
 * per question) over the last windows. Rendered at twice the shown size for sharp screens.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as EChartsModule from 'echarts';
import { scoreLabels, trendLabel } from './digest-format.js';
import type { FeedbackDigest } from './digest-types.js';

/** Size the HTML shows the chart at (CSS pixels); the PNG has twice as many. */
export const CHART_WIDTH = 600;
export const CHART_HEIGHT = 260;
export const CHART_SCALE = 2;
const FONT = 'DejaVu Sans';
const THIS_COLOR = '#2f6fdf';
const PREVIOUS_COLOR = '#b5bfcc';
const TREND_COLORS = ['#2f6fdf', '#e8833a', '#3aa675', '#a05bd5', '#d94c5c'];

const require = createRequire(import.meta.url);

/** The CommonJS bundle loads in ~0.1 s; the ESM entry pulls hundreds of modules (~0.7 s). */
function echarts(): typeof EChartsModule {
  return require('echarts') as typeof EChartsModule;
}

function fontFiles(): string[] {
  const dir = join(dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  return [join(dir, 'DejaVuSans.ttf'), join(dir, 'DejaVuSans-Bold.ttf')];
}

export function digestChartSvg(digest: FeedbackDigest): string {
  const chart = echarts().init(null, null, { renderer: 'svg', ssr: true, width: CHART_WIDTH, height: CHART_HEIGHT });
  try {
    chart.setOption(chartOption(digest) as EChartsModule.EChartsCoreOption);
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

export async function digestChartPng(digest: FeedbackDigest): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const resvg = new Resvg(digestChartSvg(digest), {
    fitTo: { mode: 'zoom', value: CHART_SCALE },
    background: '#ffffff',
    font: { loadSystemFonts: false, fontFiles: fontFiles(), defaultFontFamily: FONT },
  });
  return resvg.render().asPng();
}

function chartOption(digest: FeedbackDigest): Record<string, unknown> {
  const labels = scoreLabels(digest.scale);
  const total = digest.scores.answers;
  const share = (values: readonly number[], whole: number) => values.map((n) => (whole === 0 ? 0 : Math.round((n / whole) * 1000) / 10));
  const previous = digest.history?.previous;
  const previousTotal = previous?.distribution.reduce((a, b) => a + b, 0) ?? 0;
  const bars: Array<Record<string, unknown>> = [
    { name: 'this window', type: 'bar', data: share(digest.scores.distribution, total), itemStyle: { color: THIS_COLOR }, barGap: '10%' },
  ];
  if (previous && previous.distribution.length === labels.length) {
    bars.push({
      name: 'previous window',
      type: 'bar',
      data: share(previous.distribution, previousTotal),
      itemStyle: { color: PREVIOUS_COLOR },
    });
  }
  const trend = digest.history?.trend ?? [];
  const trendSeries = trendLines(digest).map((line, i) => ({
    name: line.name,
    type: 'line',
    xAxisIndex: 1,
    yAxisIndex: 1,
    data: line.values,
    connectNulls: true,
    symbolSize: 6,
    lineStyle: { width: 2, color: TREND_COLORS[i % TREND_COLORS.length] },
    itemStyle: { color: TREND_COLORS[i % TREND_COLORS.length] },
  }));
  const nps = digest.scale === 'nps';
  return {
    animation: false,
    backgroundColor: '#ffffff',
    textStyle: { fontFamily: FONT, fontSize: 11, color: '#333333' },
    title: [
      { text: 'Scores, % of answers', left: 8, top: 4, textStyle: { fontSize: 12, fontWeight: 'bold', fontFamily: FONT } },
      {
        text: nps ? 'NPS over the last windows' : 'Mean score over the last windows',
        left: 318,
        top: 4,
        textStyle: { fontSize: 12, fontWeight: 'bold', fontFamily: FONT },
      },
    ],
    legend: [
      {
        data: bars.map((b) => b.name),
        left: 8,
        bottom: 0,
        itemWidth: 12,
        itemHeight: 8,
        itemGap: 16,
        textStyle: { fontSize: 10, fontFamily: FONT },
      },
      {
        data: trendSeries.map((s) => s.name),
        left: 318,
        bottom: 0,
        itemWidth: 12,
        itemHeight: 8,
        itemGap: 16,
        textStyle: { fontSize: 10, fontFamily: FONT },
      },
    ],
    grid: [
      { left: 40, top: 34, width: 245, bottom: 48 },
      { left: 352, top: 34, right: 26, bottom: 48 },
    ],
    xAxis: [
      { gridIndex: 0, type: 'category', data: labels, axisTick: { show: false }, axisLabel: { fontSize: 10, fontFamily: FONT } },
      {
        gridIndex: 1,
        type: 'category',
        data: trend.map((p) => trendLabel(p.start, p.end)),
        boundaryGap: false,
        axisLabel: { fontSize: 9, fontFamily: FONT, hideOverlap: true },
      },
    ],
    yAxis: [
      {
        gridIndex: 0,
        type: 'value',
        axisLabel: { formatter: '{value}%', fontSize: 10, fontFamily: FONT },
        splitLine: { lineStyle: { color: '#e6e9ee' } },
      },
      nps
        ? {
            gridIndex: 1,
            type: 'value',
            min: -100,
            max: 100,
            interval: 50,
            axisLabel: { fontSize: 10, fontFamily: FONT },
            splitLine: { lineStyle: { color: '#e6e9ee' } },
          }
        : // Means move by tenths: a scale fitted to them shows that (the table has the exact figures).
          {
            gridIndex: 1,
            type: 'value',
            scale: true,
            minInterval: 0.05,
            axisLabel: { fontSize: 10, fontFamily: FONT, formatter: (v: number) => v.toFixed(2) },
            splitLine: { lineStyle: { color: '#e6e9ee' } },
          },
    ],
    series: [...bars, ...trendSeries],
  };
}

/** Stars and scores: one line of means. NPS: one line per question (up to five). */
function trendLines(digest: FeedbackDigest): Array<{ name: string; values: Array<number | null> }> {
  const trend = digest.history?.trend ?? [];
  if (digest.scale !== 'nps') return [{ name: 'mean score', values: trend.map((p) => p.mean) }];
  const questions = (digest.questions ?? []).map((q) => q.question).slice(0, TREND_COLORS.length);
  if (questions.length === 0) return [{ name: 'NPS', values: trend.map((p) => p.nps ?? null) }];
  return questions.map((q) => ({ name: `question ${q}`, values: trend.map((p) => p.questions?.[q] ?? null) }));
}
