import { CronSchedule } from '../src/engine/schedules/cron.ts';
import { Cron, CronPattern } from 'croner';
const gc = (globalThis as { gc?: () => void }).gc!;
const N = 2000;
const exprs = Array.from({ length: N }, (_, i) => `${i % 60} ${(i / 60 | 0) % 24} * * *`).map((e, i) => i < 1440 ? e : `${i % 60} ${i % 24} ${1 + i % 28} * *`);
const measure = (label: string, make: (e: string) => unknown) => {
  gc(); const before = process.memoryUsage().heapUsed;
  const keep = exprs.map(make);
  gc(); const after = process.memoryUsage().heapUsed;
  console.log(label, ((after - before) / N / 1024).toFixed(1), 'KB each', keep.length);
};
measure('CronPattern', (e) => new CronPattern(e, 'Europe/Berlin', { mode: '5-or-6-parts' }));
measure('Cron', (e) => new Cron(e, { timezone: 'Europe/Berlin', paused: true, mode: '5-or-6-parts' }));
measure('CronSchedule', (e) => new CronSchedule(e, 'Europe/Berlin', 'shift', 'once'));
measure('CronSchedule+next', (e) => { const s = new CronSchedule(e, 'Europe/Berlin', 'shift', 'once'); s.nextAfter(Date.now()); return s; });
