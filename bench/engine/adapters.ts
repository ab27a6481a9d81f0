import { Cron } from 'croner';
import { CronJob } from 'cron';
import nodeCron from 'node-cron';
import { CronJob as ToadCronJob, SimpleIntervalJob, Task, ToadScheduler } from 'toad-scheduler';
import { createScheduler, type Scheduler } from 'caretaker';
import { preciseNow } from '../lib/stats.ts';

/**
 * Called on every fire: which job, and the instant the library meant it for (Unix ms). Null
 * when fires are not observed (registration): every library then gets one shared no-op handler
 * instead of a closure per job, so per-task bytes measure the library, not the benchmark.
 */
export type OnFire = ((job: number, nominal: number) => void) | null;

const noop = () => {};

/**
 * One library behind the same small surface, so scenarios treat them alike. `every` fires first
 * one interval after registration; `cron` jobs run the given expressions round-robin. Null means
 * the library cannot do it.
 */
export interface Adapter {
  readonly name: string;
  readonly every: ((count: number, ms: number, onFire: OnFire) => Promise<void>) | null;
  readonly cron: ((expressions: readonly string[], count: number, onFire: OnFire) => Promise<void>) | null;
  stop(): Promise<void>;
}

const secondOf = (t: number) => Math.floor(t / 1000) * 1000;

/**
 * Options every task of a variant sets. `defer`: every task waits for quiet time on every
 * signal, what a scheduler with deferrable tasks, none of them held, costs. `options`: the
 * default overlap spelled out, the control for `defer`: a definition with any option is
 * validated in full, one without takes a shorter path, so only this compares `defer` alone.
 */
const EXTRA = {
  plain: {},
  defer: { defer: { while: { eventLoopLagAbove: '50ms', cpuAbove: 0.95, memoryAbove: '99%', busy: true }, maxDelay: '1h' } },
  options: { overlap: 'skip' },
} as const;

function caretaker(variant: keyof typeof EXTRA = 'plain'): Adapter {
  let scheduler: Scheduler | null = null;
  const make = () => (scheduler ??= createScheduler({ instance: 'bench' }));
  const extra = EXTRA[variant];
  return {
    name: variant === 'plain' ? 'caretaker' : `caretaker+${variant}`,
    async every(count, ms, onFire) {
      const s = make();
      for (let i = 0; i < count; i++) {
        s.add({ name: `job-${i}`, schedule: { every: ms, initialDelay: ms }, ...extra, handler: onFire === null ? noop : (ctx) => onFire(i, ctx.scheduledFor.getTime()) });
      }
      await s.start();
    },
    async cron(expressions, count, onFire) {
      const s = make();
      for (let i = 0; i < count; i++) {
        s.add({ name: `job-${i}`, schedule: { cron: expressions[i % expressions.length] as string }, ...extra, handler: onFire === null ? noop : (ctx) => onFire(i, ctx.scheduledFor.getTime()) });
      }
      await s.start();
    },
    async stop() {
      await scheduler?.stop({ timeout: 1000 });
    },
  };
}

function croner(): Adapter {
  const jobs: Cron[] = [];
  return {
    name: 'croner',
    every: null,
    async cron(expressions, count, onFire) {
      for (let i = 0; i < count; i++) jobs.push(new Cron(expressions[i % expressions.length] as string, onFire === null ? noop : () => onFire(i, secondOf(preciseNow()))));
    },
    async stop() {
      for (const job of jobs) job.stop();
    },
  };
}

function nodeCronAdapter(): Adapter {
  const tasks: { destroy(): unknown }[] = [];
  return {
    name: 'node-cron',
    every: null,
    async cron(expressions, count, onFire) {
      for (let i = 0; i < count; i++) tasks.push(nodeCron.schedule(expressions[i % expressions.length] as string, onFire === null ? noop : (ctx) => onFire(i, ctx.date.getTime())));
    },
    async stop() {
      for (const task of tasks) await task.destroy();
    },
  };
}

function cronAdapter(): Adapter {
  const jobs: CronJob[] = [];
  return {
    name: 'cron',
    every: null,
    async cron(expressions, count, onFire) {
      for (let i = 0; i < count; i++) {
        jobs.push(CronJob.from({ cronTime: expressions[i % expressions.length] as string, onTick: onFire === null ? noop : () => onFire(i, secondOf(preciseNow())), start: true }));
      }
    },
    async stop() {
      for (const job of jobs) await job.stop();
    },
  };
}

function toad(): Adapter {
  const scheduler = new ToadScheduler();
  return {
    name: 'toad-scheduler',
    async every(count, ms, onFire) {
      for (let i = 0; i < count; i++) {
        const start = preciseNow();
        let k = 0;
        scheduler.addSimpleIntervalJob(new SimpleIntervalJob({ milliseconds: ms }, new Task(`job-${i}`, onFire === null ? noop : () => onFire(i, start + ++k * ms))));
      }
    },
    async cron(expressions, count, onFire) {
      for (let i = 0; i < count; i++) {
        scheduler.addCronJob(new ToadCronJob({ cronExpression: expressions[i % expressions.length] as string }, new Task(`job-${i}`, onFire === null ? noop : () => onFire(i, secondOf(preciseNow())))));
      }
    },
    async stop() {
      scheduler.stop();
    },
  };
}

/** A plain setInterval per job: the baseline every interval library builds on. */
function setIntervalBaseline(): Adapter {
  const handles: NodeJS.Timeout[] = [];
  return {
    name: 'setInterval',
    async every(count, ms, onFire) {
      for (let i = 0; i < count; i++) {
        const start = preciseNow();
        let k = 0;
        handles.push(setInterval(onFire === null ? noop : () => onFire(i, start + ++k * ms), ms));
      }
    },
    cron: null,
    async stop() {
      for (const h of handles) clearInterval(h);
    },
  };
}

export const ADAPTERS: Readonly<Record<string, () => Adapter>> = {
  caretaker: () => caretaker(),
  'caretaker+defer': () => caretaker('defer'),
  'caretaker+options': () => caretaker('options'),
  croner,
  'node-cron': nodeCronAdapter,
  cron: cronAdapter,
  'toad-scheduler': toad,
  setInterval: setIntervalBaseline,
};
