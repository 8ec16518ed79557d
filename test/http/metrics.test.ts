import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/http/metrics.js';

describe('Metrics', () => {
  it('every daemon in a process shows the process metrics once, and its own job metrics only', async () => {
    const a = new Metrics({ defaultMetrics: true });
    const b = new Metrics({ defaultMetrics: true });
    const quiet = new Metrics();
    a.recordRun('test.window', 'a', 'done', 20, { rows: 3 });
    const [textA, textB, textQuiet] = await Promise.all([a.text(), b.text(), quiet.text()]);
    for (const text of [textA, textB]) {
      expect(text.match(/^# TYPE oxb_process_process_cpu_user_seconds_total /gm)).toHaveLength(1);
      expect(text.match(/^# TYPE oxb_process_nodejs_gc_duration_seconds /gm)).toHaveLength(1);
      expect(text).toMatch(/^# TYPE oxb_job_runs_total counter$/m);
    }
    expect(textA).toMatch(/oxb_job_runs_total\{job="test.window",schedule="a",result="done"\} 1/);
    expect(textB).not.toMatch(/schedule="a"/);
    expect(textQuiet).not.toMatch(/oxb_process_/);
  });
});
