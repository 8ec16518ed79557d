import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/http/metrics.js';

describe('Metrics', () => {
  it('every daemon in a process shows the process metrics once, and its own job metrics only', async () => {
    const a = new Metrics({ defaultMetrics: true });
    const b = new Metrics({ defaultMetrics: true });
    const quiet = new Metrics();
    a.recordAttempt('test.window', 'a', 'done', 20, { rows: 3 });
    const [textA, textB, textQuiet] = await Promise.all([a.text(), b.text(), quiet.text()]);
    for (const text of [textA, textB]) {
      expect(text.match(/^# TYPE oxb_process_cpu_user_seconds_total /gm)).toHaveLength(1);
      expect(text.match(/^# TYPE oxb_nodejs_gc_duration_seconds /gm)).toHaveLength(1);
      expect(text).toMatch(/^# TYPE oxb_job_runs_total counter$/m);
    }
    expect(textA).toMatch(/oxb_job_runs_total\{kind="test.window",schedule="a",result="done"\} 1/);
    expect(textB).not.toMatch(/schedule="a"/);
    expect(textQuiet).not.toMatch(/oxb_process_/);
  });

  it('drops the gauges of a schedule that is no longer reported', async () => {
    const metrics = new Metrics();
    let schedules = [
      { scheduleId: 'kept', failedWindows: 1, gapWindows: 2, overdueWindows: 3, watermarkLagSeconds: 60 },
      {
        scheduleId: 'removed',
        failedWindows: 4,
        gapWindows: 5,
        overdueWindows: 6,
        watermarkLagSeconds: 70,
        lastRunFailure: 'refused' as const,
        job: 'feedback.purge',
      },
    ];
    metrics.setSources({ schedules: async () => schedules });
    const before = await metrics.text();
    expect(before).toMatch(/oxb_schedule_overdue_windows\{schedule="removed"\} 6/);
    expect(before).toMatch(/oxb_schedule_last_run_failed\{schedule="removed",kind="feedback.purge",reason="refused"\} 1/);
    schedules = schedules.slice(0, 1);
    const after = await metrics.text();
    expect(after).not.toMatch(/schedule="removed"/);
    for (const name of ['watermark_lag_seconds', 'failed_windows', 'gap_windows', 'overdue_windows'])
      expect(after).toMatch(new RegExp(`oxb_schedule_${name}\\{schedule="kept"\\}`));
  });

  it('reports the version it runs', async () => {
    expect(await new Metrics().text()).toMatch(/^oxb_build_info\{version="\d+\.\d+\.\d+[^"]*",node="\d+\.\d+\.\d+"\} 1$/m);
  });
});
