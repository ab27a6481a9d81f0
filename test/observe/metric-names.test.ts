import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createScheduler, memoryStore } from '../../src/index.ts';
import { createAdminApi } from '../../src/http/index.ts';

describe('metric names', () => {
  it('process and Node.js metrics carry the caretaker_ prefix once', async () => {
    const scheduler = createScheduler({ store: memoryStore() });
    scheduler.add({ name: 'noop', schedule: { every: '1d', initialDelay: '1d' }, handler: () => {} });
    await scheduler.start();
    const api = createAdminApi({ scheduler, dashboard: false });
    try {
      const res = await api.fetch(new Request('http://127.0.0.1/metrics'));
      assert.equal(res.status, 200);
      // From the TYPE lines, not parsePrometheus: before its first sample prom-client writes the event loop's mean lag as "Nan", which that strict reader refuses.
      const names = [...(await res.text()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? '');
      for (const name of ['caretaker_process_cpu_user_seconds_total', 'caretaker_process_start_time_seconds', 'caretaker_nodejs_eventloop_lag_seconds', 'caretaker_runs_total']) {
        assert.ok(names.includes(name), `${name} missing from /metrics`);
      }
      const doubled = names.filter((name) => /^caretaker_(caretaker|process_process|nodejs_nodejs|process_nodejs)_/.test(name) || !name.startsWith('caretaker_'));
      assert.deepEqual(doubled, []);
    } finally {
      api.close();
      await scheduler.stop();
    }
  });
});
