/**
 * Hostile checks of bursts shared across replicas (decision 025) at the engine level: replicas
 * on one memory store and one virtual clock, with a "ghost" peer (a replica that still beats but
 * claims nothing: killed between the split and the grace check, or stalled), peers that disagree
 * on membership, a replica with another task list, stop() and pause in the middle of a burst,
 * overlap modes inside bursts, and a store that refuses one run's end.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createScheduler, memoryStore, type RunRecord, type Store } from '../../src/index.ts';
import type { Clock } from '../../src/engine/clock.ts';
import type { PollResult, RunCompletion, SlotRef } from '../../src/store/port.ts';
import { createTestClock, type TestClock } from '../../src/testing/index.ts';
import { fnv1a32, setDigest } from '../../src/util/hash.ts';
import { harness, type Harness, runsOf, seededRandom } from '../helpers.ts';

const START = '2026-01-01T00:00:30Z';
const MINUTE = Date.parse('2026-01-01T00:01:00Z');

const names = (n: number, prefix = 'job') => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
/** Who owns a task among these peers (sorted by name, as every store returns them). */
const owner = (task: string, peers: readonly string[]) => [...peers].sort()[fnv1a32(task) % peers.length] as string;

/** A store with some methods replaced; the rest go to `inner`. */
function wrap(inner: Store, over: Partial<Record<keyof Store, unknown>>): Store {
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key in over) return over[key as keyof Store];
      const value = Reflect.get(target, key, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * A replica that beats with `tasks` every second but never claims anything: a process killed
 * (or stalled) after the others split a burst with it and before they noticed.
 */
function ghost(store: Store, clock: TestClock, tasks: readonly string[], instance = 'ghost'): { stop(): void } {
  let stopped = false;
  const beat = () => {
    if (stopped) return;
    void store.poll({ instance, now: clock.now(), pauseVersion: 0, retryGraceMs: 15_000, beat: { pollIntervalMs: 1_000, tasks: [...tasks], tasksToken: `${instance}:1`, tasksDigest: setDigest(tasks) } });
    clock.setTimer(beat, 1_000);
  };
  beat();
  return {
    stop: () => {
      stopped = true;
    },
  };
}

/** Every record per (task, slot), asserting there is at most one per attempt. */
function bySlot(runs: readonly RunRecord[]): Map<string, RunRecord[]> {
  const out = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const key = `${r.task}|${r.slot}`;
    out.set(key, [...(out.get(key) ?? []), r]);
  }
  for (const [key, records] of out) {
    const attempts = records.map((r) => r.attempt);
    assert.equal(new Set(attempts).size, attempts.length, `${key}: one record per attempt`);
  }
  return out;
}

interface Replica {
  readonly h: Harness;
  readonly name: string;
}

function replicas(clock: TestClock, store: Store | ((name: string) => Store), instances: readonly string[], define: (r: Replica) => void): Replica[] {
  return instances.map((name) => {
    const h = harness({ clock, store: typeof store === 'function' ? store(name) : store, instance: name, pollInterval: '1s' });
    const r = { h, name };
    define(r);
    return r;
  });
}

describe('bursts shared across replicas, under hostile conditions (decision 025)', () => {
  it('a dead peer that still looks alive: its share runs once, a grace late, on the live replicas; the rest on time, once', async () => {
    const clock = createTestClock({ start: START });
    const store = memoryStore();
    const tasks = names(40);
    const ran = new Map<string, string[]>();
    const rs = replicas(clock, store, ['a', 'b'], (r) => {
      for (const name of tasks) r.h.scheduler.add({ name, schedule: { cron: '* * * * *' }, handler: () => void ran.set(name, [...(ran.get(name) ?? []), r.name]) });
    });
    const g = ghost(store, clock, tasks);
    for (const r of rs) await r.h.scheduler.start();
    await clock.advanceTo(MINUTE + 10_000);
    const runs = await runsOf(rs[0]!.h.scheduler);
    const slots = bySlot(runs);
    assert.equal(slots.size, tasks.length, 'one tick per task');
    for (const task of tasks) {
      const [run] = slots.get(`${task}|t:${MINUTE}`) ?? [];
      assert.equal(run?.status, 'succeeded', task);
      assert.deepEqual(ran.get(task)?.length, 1, `${task} ran once`);
      const own = owner(task, ['a', 'b', 'ghost']);
      if (own === 'ghost') assert.ok((run?.latenessMs ?? 0) >= 1_000, `${task}: the ghost's share runs after the grace (${run?.latenessMs} ms)`);
      else assert.equal(run?.instance, own, `${task} ran on its owner`);
    }
    g.stop();
    for (const r of rs) await r.h.scheduler.stop();
  });

  it('peers that disagree on membership (a sees a ghost, b does not; c sees only itself): every tick exactly once, none lost', async () => {
    const clock = createTestClock({ start: START });
    const inner = memoryStore();
    const views: Record<string, (peers: readonly string[]) => string[]> = {
      a: (peers) => [...peers, 'ghost'],
      b: (peers) => [...peers],
      c: () => ['c'],
    };
    const storeFor = (name: string) =>
      wrap(inner, {
        poll: async (request: Parameters<Store['poll']>[0]): Promise<PollResult> => {
          const result = await inner.poll(request);
          return result.peers === undefined ? result : { ...result, peers: views[name]!(result.peers).sort() };
        },
      });
    const tasks = names(50);
    const ran = new Map<string, number>();
    const rs = replicas(clock, storeFor, ['a', 'b', 'c'], (r) => {
      for (const name of tasks) r.h.scheduler.add({ name, schedule: { cron: '* * * * *' }, handler: () => void ran.set(`${name}@${clock.now()}`, (ran.get(`${name}@${clock.now()}`) ?? 0) + 1) });
    });
    for (const r of rs) await r.h.scheduler.start();
    await clock.advanceTo(MINUTE + 60_000 * 3 + 10_000);
    const slots = bySlot(await runsOf(rs[0]!.h.scheduler));
    for (const task of tasks) {
      for (let m = 0; m < 4; m++) {
        const records = slots.get(`${task}|t:${MINUTE + m * 60_000}`) ?? [];
        assert.deepEqual(records.map((r) => r.status), ['succeeded'], `${task} minute ${m}`);
      }
    }
    assert.ok([...ran.values()].every((n) => n === 1), 'no handler ran twice for one tick');
    for (const r of rs) await r.h.scheduler.stop();
  });

  it('clocks that disagree by more than the grace (one replica 2.5 s ahead, one 2.5 s behind) and a ghost: every tick exactly once, none lost', async () => {
    const clock = createTestClock({ start: START });
    const store = memoryStore();
    const tasks = names(45);
    const skewed = (ms: number): Clock => ({ now: () => clock.now() + ms, monotonic: () => clock.monotonic(), setTimer: (cb, delay, options) => clock.setTimer(cb, delay, options) });
    const ran = new Map<string, number>();
    const schedulers = ([['a', 0], ['ahead', 2_500], ['behind', -2_500]] as const).map(([instance, skew]) => {
      const scheduler = createScheduler({ clock: skewed(skew), store, instance, pollInterval: '1s', random: seededRandom(7) });
      for (const name of tasks) scheduler.add({ name, schedule: { cron: '* * * * *' }, handler: (ctx: { scheduledFor: Date }) => void ran.set(`${name}@${ctx.scheduledFor.getTime()}`, (ran.get(`${name}@${ctx.scheduledFor.getTime()}`) ?? 0) + 1) });
      return scheduler;
    });
    const g = ghost(store, clock, tasks);
    for (const s of schedulers) await s.start();
    await clock.advanceTo(MINUTE + 3 * 60_000 + 10_000);
    g.stop();
    const slots = bySlot(await runsOf(schedulers[0]!));
    for (const task of tasks) for (let m = 0; m <= 3; m++) assert.deepEqual((slots.get(`${task}|t:${MINUTE + m * 60_000}`) ?? []).map((r) => r.status), ['succeeded'], `${task} minute ${m}`);
    assert.ok([...ran.values()].every((n) => n === 1), 'no tick ran twice');
    for (const s of schedulers) await s.stop();
  });

  it('a replica that joins during a burst (inside the grace) and one that stops in the middle of it: every tick exactly once, none lost', async () => {
    const clock = createTestClock({ start: START });
    const store = memoryStore();
    const tasks = names(40);
    const ran = new Map<string, number>();
    const define = (r: Replica) => {
      for (const name of tasks) r.h.scheduler.add({ name, schedule: { cron: '* * * * *' }, handler: (ctx: { scheduledFor: Date }) => void ran.set(`${name}@${ctx.scheduledFor.getTime()}`, (ran.get(`${name}@${ctx.scheduledFor.getTime()}`) ?? 0) + 1) });
    };
    const [a, b] = replicas(clock, store, ['a', 'b'], define);
    const g = ghost(store, clock, tasks);
    await a!.h.scheduler.start();
    await b!.h.scheduler.start();
    await clock.advanceTo(MINUTE + 300);
    // The ghost's share waits for the grace check; c starts now (the minute is a live tick
    // for it) and b stops.
    const [c] = replicas(clock, store, ['c'], define);
    const starting = c!.h.scheduler.start();
    const stopping = b!.h.scheduler.stop({ timeout: '1s' });
    await clock.advance(2_000);
    await Promise.all([starting, stopping]);
    await clock.advanceTo(MINUTE + 3 * 60_000 + 10_000);
    g.stop();
    const slots = bySlot(await runsOf(a!.h.scheduler));
    for (const task of tasks) for (let m = 0; m <= 3; m++) assert.deepEqual((slots.get(`${task}|t:${MINUTE + m * 60_000}`) ?? []).map((r) => r.status), ['succeeded'], `${task} minute ${m}`);
    assert.ok([...ran.values()].every((n) => n === 1), 'no tick ran twice');
    await a!.h.scheduler.stop();
    await c!.h.scheduler.stop();
  });

  it('a replica with another task list is no peer: it claims all it has, the two peers split the rest; exactly once', async () => {
    const clock = createTestClock({ start: START });
    const store = memoryStore();
    const tasks = names(40);
    const rs = replicas(clock, store, ['a', 'b', 'odd'], (r) => {
      for (const name of r.name === 'odd' ? [...tasks, 'extra'] : tasks) r.h.scheduler.add({ name, schedule: { cron: '* * * * *' }, handler: () => {} });
    });
    for (const r of rs) await r.h.scheduler.start();
    await clock.advanceTo(MINUTE + 60_000 + 5_000);
    const slots = bySlot(await runsOf(rs[0]!.h.scheduler));
    for (const task of [...tasks, 'extra']) for (const m of [0, 1]) assert.deepEqual((slots.get(`${task}|t:${MINUTE + m * 60_000}`) ?? []).map((r) => r.status), ['succeeded'], `${task} minute ${m}`);
    for (const r of rs) await r.h.scheduler.stop();
  });

  it("overlap skip/allow/queue/replace inside shared bursts: limits hold across replicas, every tick is recorded once", async () => {
    const clock = createTestClock({ start: START });
    const store = memoryStore();
    const modes = ['skip', 'allow', 'queue', 'replace'] as const;
    const tasks = names(40);
    const modeOf = (task: string) => modes[Number(task.slice(-2)) % modes.length]!;
    const live = new Map<string, { from: number; to: number }[]>();
    const violations: string[] = [];
    const rs = replicas(clock, store, ['a', 'b'], (r) => {
      for (const name of tasks) {
        const overlap = modeOf(name);
        r.h.scheduler.add({
          name,
          schedule: { cron: '* * * * *' },
          overlap,
          ...(overlap === 'allow' ? { maxConcurrent: 2 } : {}),
          handler: async (ctx: { signal: AbortSignal }) => {
            // Runs in progress at this virtual instant; a replaced run that winds down within
            // the same instant (its signal aborted the sleep) does not count as overlapping.
            const mine = { from: clock.now(), to: Number.POSITIVE_INFINITY };
            const others = (live.get(name) ?? []).filter((o) => o.to > mine.from);
            live.set(name, [...others, mine]);
            const limit = overlap === 'allow' ? 2 : 1;
            if (others.length + 1 > limit) {
              // Decided when the others end: an overlap of zero virtual ms is a replace handing over.
              void Promise.resolve().then(async () => {
                await clock.settle();
                const still = others.filter((o) => o.to > mine.from);
                if (still.length + 1 > limit) violations.push(`${name} (${overlap}): ${still.length + 1} at once at ${mine.from - MINUTE} ms`);
              });
            }
            try {
              // Longer than the tick interval: every mode has something to decide.
              await clock.sleep(90_000, ctx.signal);
            } finally {
              mine.to = clock.now();
            }
          },
        });
      }
    });
    const g = ghost(store, clock, tasks);
    for (const r of rs) await r.h.scheduler.start();
    await clock.advanceTo(MINUTE + 5 * 60_000 + 1_000);
    g.stop();
    assert.deepEqual(violations, [], 'overlap limits hold cluster-wide');
    const slots = bySlot(await runsOf(rs[0]!.h.scheduler));
    for (const task of tasks) {
      const mode = modeOf(task);
      for (let m = 0; m <= 5; m++) {
        const records = slots.get(`${task}|t:${MINUTE + m * 60_000}`) ?? [];
        // queue may still hold the newest tick (queued behind the run in progress).
        if (mode === 'queue' && records.length === 0 && m >= 4) continue;
        assert.equal(records.length, 1, `${task} (${mode}) minute ${m}: ${records.map((r) => `${r.status}/${r.skipReason}`).join()}`);
      }
    }
    const stopping = Promise.all(rs.map((r) => r.h.scheduler.stop({ timeout: 0 })));
    await clock.advance(10_000);
    await stopping;
  });

  it('stop() in the middle of a shared burst: no handler starts after stop, nothing is left running', async () => {
    const clock = createTestClock({ start: START });
    const store = memoryStore();
    const tasks = names(40);
    let stoppedAt = Number.POSITIVE_INFINITY;
    const lateStarts: string[] = [];
    const rs = replicas(clock, store, ['a'], (r) => {
      for (const name of tasks) {
        r.h.scheduler.add({
          name,
          schedule: { cron: '* * * * *' },
          handler: async (ctx: { signal: AbortSignal }) => {
            if (clock.now() >= stoppedAt) lateStarts.push(name);
            await clock.sleep(5_000, ctx.signal).catch(() => {});
          },
        });
      }
    });
    const g = ghost(store, clock, tasks);
    await rs[0]!.h.scheduler.start();
    await clock.advanceTo(MINUTE + 400);
    // The ghost's share waits for its grace check (at +1 s); a's share is running.
    stoppedAt = clock.now();
    const stopping = rs[0]!.h.scheduler.stop({ timeout: '2s' });
    await clock.advance(10_000);
    await stopping;
    g.stop();
    await clock.advance(10_000);
    assert.deepEqual(lateStarts, [], 'no handler started after stop()');
    const runs = await runsOf(rs[0]!.h.scheduler);
    assert.deepEqual(runs.filter((r) => r.status === 'running').map((r) => r.task), [], 'nothing left running');
  });

  it('stop() while a burst\'s claim is in flight (a slow store): no handler starts after stop, nothing is left running', async () => {
    const clock = createTestClock({ start: START });
    const inner = memoryStore();
    const store = wrap(inner, {
      claim: async (...args: Parameters<Store['claim']>) => {
        const outcomes = await inner.claim(...args);
        // Claiming a burst on a busy database: the reply takes seconds.
        if (args[0].length >= 32) await clock.sleep(3_000);
        return outcomes;
      },
    });
    const tasks = names(40);
    let stoppedAt = Number.POSITIVE_INFINITY;
    const lateStarts: string[] = [];
    const rs = replicas(clock, store, ['a'], (r) => {
      for (const name of tasks) r.h.scheduler.add({ name, schedule: { cron: '* * * * *' }, handler: () => void (clock.now() >= stoppedAt && lateStarts.push(name)) });
    });
    await rs[0]!.h.scheduler.start();
    await clock.advanceTo(MINUTE + 500);
    stoppedAt = clock.now();
    const stopping = rs[0]!.h.scheduler.stop({ timeout: '1s' });
    await clock.advance(10_000);
    await stopping;
    assert.deepEqual(lateStarts, [], 'no handler started after stop()');
    const running = (await inner.listRuns({ limit: 100 })).runs.filter((r) => r.status === 'running');
    assert.deepEqual(running.map((r) => r.task), [], 'stop() returned with runs claimed by this instance still recorded running');
  });

  it('stop() while the grace check of a dead peer\'s share is in flight: a tick overtaken by a later claim is still recorded', async () => {
    const clock = createTestClock({ start: START });
    const inner = memoryStore();
    // The grace check's read is slow (a busy database); stop() comes while it is in flight.
    let releaseCheck: (() => void) | null = null;
    const store = wrap(inner, {
      unclaimed: async (slots: readonly SlotRef[]) => {
        await new Promise<void>((resolve) => {
          releaseCheck = resolve;
        });
        return inner.unclaimed(slots);
      },
    });
    // A task due every second, owned by the ghost among [a, ghost], inside a minute burst.
    const fast = ['fast-0', 'fast-1', 'fast-2', 'fast-3', 'fast-4', 'fast-5'].find((n) => owner(n, ['a', 'ghost']) === 'ghost')!;
    const tasks = [...names(39), fast];
    const rs = replicas(clock, store, ['a'], (r) => {
      for (const name of names(39)) r.h.scheduler.add({ name, schedule: { cron: '* * * * *' }, handler: () => {} });
      r.h.scheduler.add({ name: fast, schedule: { cron: '* * * * * *' }, handler: () => {} });
    });
    const g = ghost(inner, clock, tasks);
    await rs[0]!.h.scheduler.start();
    await clock.advanceTo(MINUTE + 1_500);
    // By now: the burst at the minute left `fast`'s tick to the ghost; its next tick (a lone
    // one, not shared) was claimed here at +1 s; the grace check of the first is in flight.
    assert.ok(releaseCheck !== null, 'the grace check is in flight');
    const stopping = rs[0]!.h.scheduler.stop({ timeout: '1s' });
    await clock.settle();
    (releaseCheck as () => void)();
    await clock.advance(5_000);
    await stopping;
    g.stop();
    const records = (await inner.listRuns({ task: fast, limit: 100 })).runs;
    const first = records.filter((r) => r.slot === `t:${MINUTE}`);
    const later = records.filter((r) => r.scheduledFor.getTime() > MINUTE);
    assert.ok(later.length > 0, 'a later tick of the task was claimed (the cursor passed the first)');
    assert.equal(first.length, 1, `the tick at the minute has a record (run, or skipped as missed); got none, so no replica will ever run or catch it up`);
  });

  it('pausing a task while its burst share waits for the grace check: its tick still gets exactly one record', async (t) => {
    const clock = createTestClock({ start: START });
    const store = memoryStore();
    const tasks = names(40);
    const paused = tasks.find((task) => owner(task, ['a', 'ghost']) === 'ghost')!;
    const starts: { task: string; at: number }[] = [];
    const rs = replicas(clock, store, ['a'], (r) => {
      for (const name of tasks) r.h.scheduler.add({ name, schedule: { cron: '* * * * *' }, handler: () => void starts.push({ task: name, at: clock.now() }) });
    });
    const g = ghost(store, clock, tasks);
    await rs[0]!.h.scheduler.start();
    await clock.advanceTo(MINUTE + 200);
    await rs[0]!.h.scheduler.pause(paused);
    const pausedAt = clock.now();
    await clock.advanceTo(MINUTE + 60_000 + 5_000);
    g.stop();
    const records = (await runsOf(rs[0]!.h.scheduler, paused)).filter((r) => r.slot === `t:${MINUTE}`);
    const next = (await runsOf(rs[0]!.h.scheduler, paused)).filter((r) => r.slot === `t:${MINUTE + 60_000}`);
    await rs[0]!.h.scheduler.stop();
    assert.equal(records.length, 1, 'the tick due before the pause has one record');
    assert.deepEqual(next.map((r) => `${r.status}/${r.skipReason}`), ['skipped/paused'], 'the next tick is recorded paused');
    // Observed (not asserted): the share's handler starts after pause() returned, because the
    // claim waits for the grace; before decision 025 it started at its instant, before the pause.
    const late = starts.filter((s) => s.task === paused && s.at > pausedAt && s.at < MINUTE + 60_000);
    t.diagnostic(`${paused}: handler started ${late.map((s) => s.at - pausedAt).join() || 'never'} ms after pause() returned (record: ${records[0]?.status})`);
  });

  it('the wall clock stepped back between the split and the grace check: the dead peer\'s share is still claimed about a grace late', async () => {
    const clock = createTestClock({ start: START });
    const store = memoryStore();
    const tasks = names(40);
    const rs = replicas(clock, store, ['a'], (r) => {
      for (const name of tasks) r.h.scheduler.add({ name, schedule: { cron: '* * * * *' }, handler: () => {} });
    });
    const g = ghost(store, clock, tasks);
    await rs[0]!.h.scheduler.start();
    await clock.advanceTo(MINUTE + 200);
    // NTP steps the clock back five minutes (a VM resumed, a bad time source corrected).
    clock.jump(-5 * 60_000);
    await clock.advance(30_000);
    g.stop();
    const claimed = new Set((await store.listRuns({ limit: 1_000 })).runs.filter((r) => r.slot === `t:${MINUTE}`).map((r) => r.task));
    const stopping = rs[0]!.h.scheduler.stop({ timeout: 0 });
    await clock.advance(5_000);
    await stopping;
    // The tick came due before the step; only the check of who claimed it is pending. That check
    // is a wall-clock timer, so it waits for the clock to come back to the minute (five minutes),
    // and the share has no record meanwhile. A grace is a duration: an elapsed timer keeps it.
    const unclaimed = tasks.filter((task) => !claimed.has(task));
    assert.deepEqual(unclaimed, [], `30 s (elapsed) after the instant, ${unclaimed.length} ticks of the burst have no record`);
  });

  it('one lease renewal that never answers (a connection gone silent) does not stop every later renewal', async () => {
    const clock = createTestClock({ start: START });
    const inner = memoryStore();
    let renewals = 0;
    const store = wrap(inner, {
      renewLeases: (...args: Parameters<Store['renewLeases']>) => {
        // The first renewal goes out on a connection whose peer vanished: no reply, no error
        // (TCP gives up after ~15 minutes). The pool's other connections work.
        if (++renewals === 1) return new Promise<string[]>(() => {});
        return inner.renewLeases(...args);
      },
    });
    const outcomes: string[] = [];
    const rs = replicas(clock, store, ['a'], (r) => {
      r.h.scheduler.add({
        name: 'long',
        schedule: { cron: '*/2 * * * *' },
        handler: async (ctx: { signal: AbortSignal; scheduledFor: Date }) => {
          const tick = (ctx.scheduledFor.getTime() - MINUTE) / 60_000;
          await clock.sleep(60_000, ctx.signal).then(
            () => outcomes.push(`+${tick} min: finished`),
            () => outcomes.push(`+${tick} min: aborted`),
          );
        },
      });
    });
    await rs[0]!.h.scheduler.start();
    await clock.advanceTo(MINUTE + 8 * 60_000);
    const stopping = rs[0]!.h.scheduler.stop({ timeout: 0 });
    await clock.advance(10_000);
    await stopping;
    // The first run may lose its lease (its one renewal hung, the next is due just as the
    // watchdog gives up: as before decision 025). Every later run must keep its lease: before,
    // each beat sent a renewal of its own; now one round in flight at a time, and a round
    // that never settles holds every later round back, so every run is stopped at 2/3 of
    // its lease, until the process restarts.
    assert.deepEqual(outcomes.slice(1), ['+3 min: finished', '+5 min: finished', '+7 min: finished'], `${outcomes.join('; ')} (renewals attempted: ${renewals})`);
  });

  it('a run end the store refuses does not hold back the ends of other runs, nor keep their tasks busy forever', async () => {
    const clock = createTestClock({ start: START });
    const inner = memoryStore();
    const poisonRuns = new Set<string>();
    const refuse = (completions: readonly RunCompletion[]) => {
      if (completions.some((c) => poisonRuns.has(c.runId))) throw new Error('value too long for the column (injected: a store that refuses this one end)');
    };
    const store = wrap(inner, {
      finish: async (completion: RunCompletion, now: number) => {
        refuse([completion]);
        return inner.finish(completion, now);
      },
      finishMany: async (completions: readonly RunCompletion[], now: number) => {
        refuse(completions);
        return inner.finishMany(completions, now);
      },
    });
    const rs = replicas(clock, store, ['a'], (r) => {
      r.h.scheduler.add({ name: 'poison', schedule: { cron: '* * * * *' }, handler: (ctx: { runId: string }) => void poisonRuns.add(ctx.runId) });
      r.h.scheduler.add({ name: 'healthy', schedule: { cron: '* * * * *' }, handler: () => 'ok' });
    });
    await rs[0]!.h.scheduler.start();
    await clock.advanceTo(MINUTE + 3 * 60_000 + 5_000);
    const healthy = (await inner.listRuns({ task: 'healthy', limit: 100 })).runs;
    const poison = (await inner.listRuns({ task: 'poison', limit: 100 })).runs;
    const stopping = rs[0]!.h.scheduler.stop({ timeout: 0 });
    await clock.advance(10_000);
    await stopping;
    assert.deepEqual(
      healthy.map((r) => `${(r.scheduledFor.getTime() - MINUTE) / 60_000}:${r.status}${r.skipReason === null ? '' : `/${r.skipReason}`}`).sort(),
      ['0:succeeded', '1:succeeded', '2:succeeded', '3:succeeded'],
      `healthy's ends wait behind poison's, forever (poison: ${poison.map((r) => r.status).join()})`,
    );
  });
});
