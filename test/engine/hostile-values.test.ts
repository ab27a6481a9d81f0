import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createScheduler, memoryStore, type RunRecord, type Store } from '../../src/index.ts';
import { createTestClock } from '../../src/testing/index.ts';
import { harness, runsOf } from '../helpers.ts';
import { backends, openBackend, type Backend } from '../multiprocess/backends.ts';

/** A Proxy whose every trap throws: what a handler may throw or return. */
function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

function errorWithThrowingGetters(...names: ('stack' | 'message' | 'name' | 'code')[]): Error {
  const error = new Error('the message');
  for (const name of names) Object.defineProperty(error, name, { get: () => { throw new Error(`${name} getter throws`); } });
  return error;
}

/**
 * Hostile values and what the run must end as. Each handler returns (or throws) its value; the
 * process must live on and every run must get its final record.
 */
const CASES: readonly { readonly name: string; readonly handler: () => unknown; readonly status: RunRecord['status']; readonly message?: RegExp }[] = [
  { name: 'async-throw-revoked-proxy', handler: async () => Promise.reject(revokedProxy()), status: 'failed', message: /cannot be inspected/ },
  { name: 'sync-throw-revoked-proxy', handler: () => { throw revokedProxy(); }, status: 'failed', message: /cannot be inspected/ },
  { name: 'return-revoked-proxy', handler: () => revokedProxy(), status: 'failed', message: /revoked/ },
  { name: 'then-getter-throws', handler: () => ({ get then() { throw new Error('then getter'); } }), status: 'failed', message: /then getter/ },
  { name: 'then-throws', handler: () => ({ then() { throw new Error('then itself'); } }), status: 'failed', message: /then itself/ },
  { name: 'then-rejects-revoked-proxy', handler: () => ({ then(_: unknown, reject: (e: unknown) => void) { reject(revokedProxy()); } }), status: 'failed', message: /cannot be inspected/ },
  { name: 'then-resolves-twice', handler: () => ({ then(resolve: (v: unknown) => void, reject: (e: unknown) => void) { resolve('first'); resolve('second'); reject(new Error('late')); } }), status: 'succeeded' },
  { name: 'error-stack-getter-throws', handler: async () => { throw errorWithThrowingGetters('stack'); }, status: 'failed', message: /the message/ },
  { name: 'error-all-getters-throw', handler: async () => { throw errorWithThrowingGetters('stack', 'message', 'name', 'code'); }, status: 'failed', message: /Error/ },
  { name: 'error-message-not-a-string', handler: async () => { const e = new Error('x'); Object.defineProperty(e, 'message', { value: { nested: 1 } }); throw e; }, status: 'failed', message: /Error/ },
  { name: 'throws-symbol', handler: () => { throw Symbol('boom'); }, status: 'failed', message: /Symbol\(boom\)/ },
  { name: 'throws-bigint', handler: async () => { throw 10n; }, status: 'failed', message: /10/ },
  { name: 'throws-object-with-throwing-tojson', handler: async () => { throw { toJSON() { throw revokedProxy(); } }; }, status: 'failed', message: /object Object/ },
  // The work was done; what it returned cannot be stored: succeeded, output null, an 'output' error event.
  { name: 'returns-bigint', handler: () => 10n, status: 'succeeded' },
  { name: 'returns-tojson-throwing-revoked-proxy', handler: () => ({ toJSON() { throw revokedProxy(); } }), status: 'succeeded' },
  { name: 'returns-string-that-looks-like-json', handler: () => '{"a":1}', status: 'succeeded' },
  { name: 'returns-nul-and-lone-surrogate', handler: () => ({ 'k\u0000': 'a\u0000b\ud800' }), status: 'succeeded' },
];

/** Registers every case as a task due at the first minute, runs one tick, returns each task's runs. */
async function runCases(store: Store, startAt: string): Promise<Map<string, RunRecord[]>> {
  const clock = createTestClock({ start: startAt, settleTurns: store.kind === 'memory' ? 1 : 5 });
  const scheduler = createScheduler({ store, clock, instance: 'hostile' });
  const errors: unknown[] = [];
  scheduler.on('error', (e) => errors.push(e.error));
  for (const c of CASES) scheduler.add({ name: c.name, schedule: { every: '1m' }, handler: c.handler });
  await scheduler.start();
  // The first tick of an `every` task is due at registration.
  await clock.advance(1_000);
  await scheduler.onIdle();
  const out = new Map<string, RunRecord[]>();
  for (const c of CASES) out.set(c.name, await runsOf(scheduler, c.name));
  // A restart reads every record back (lastRun, lastSuccess) and must still work.
  await scheduler.stop();
  const again = createScheduler({ store, clock, instance: 'hostile-2' });
  for (const c of CASES) again.add({ name: c.name, schedule: { every: '1m' }, handler: () => 'fine' });
  await again.start();
  assert.equal(again.tasks().length, CASES.length);
  await clock.advance(60_000);
  await again.onIdle();
  for (const c of CASES) assert.equal((await runsOf(again, c.name)).at(-1)?.status, 'succeeded', `${c.name}: the tick after a hostile value runs`);
  await again.stop();
  return out;
}

function assertCases(runs: Map<string, RunRecord[]>): void {
  for (const c of CASES) {
    const [run, ...rest] = runs.get(c.name) ?? [];
    assert.equal(rest.length, 0, `${c.name}: one record`);
    assert.equal(run?.status, c.status, `${c.name}: ${JSON.stringify(run?.error)}`);
    if (c.message !== undefined) assert.match(run?.error?.message ?? '', c.message, c.name);
  }
}

describe('hostile thrown and returned values', () => {
  it('every run gets a final record, the process lives on, and the next tick runs (memory)', async () => {
    assertCases(await runCases(memoryStore(), '2026-01-01T00:00:00Z'));
  });

  for (const { name, skip } of backends) {
    describe(`on ${name}`, { skip }, () => {
      let backend: Backend;
      before(async () => {
        backend = await openBackend(name);
      });
      after(async () => backend?.dispose());
      it('every run gets a final record and a restart reads them back', async () => {
        await backend.withStore(backend.config('hostile'), async (store) => assertCases(await runCases(store, '2026-01-01T00:00:00Z')));
      });
    });
  }

  it('any thrown value, and any value a returned thenable rejects with, fails the run with a string message (fast-check)', async () => {
    // Hostile values are built inside the property: fast-check itself inspects what it generates.
    const build = (kind: string, plain: unknown): unknown =>
      kind === 'revoked' ? revokedProxy() : kind === 'symbol' ? Symbol('s') : kind === 'stack' ? errorWithThrowingGetters('stack') : kind === 'all' ? errorWithThrowingGetters('stack', 'message', 'name', 'code') : plain;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('plain', 'revoked', 'stack', 'all', 'symbol'), fc.oneof(fc.anything(), fc.constant(undefined)), fc.constantFrom('sync', 'async', 'thenable'), async (kind, plain, how) => {
        const value = build(kind, plain);
        const h = harness();
        const handler = how === 'sync' ? () => { throw value; } : how === 'async' ? async () => { throw value; } : () => ({ then: (_: unknown, reject: (e: unknown) => void) => reject(value) });
        h.scheduler.add({ name: 'hostile', schedule: { every: '1m' }, handler });
        await h.scheduler.start();
        await h.clock.advance(1_000);
        await h.scheduler.onIdle();
        await h.scheduler.stop();
        assert.equal(h.finished.length, 1);
        assert.equal(h.finished[0]?.status, 'failed');
        assert.equal(typeof h.finished[0]?.error?.message, 'string');
      }),
      { numRuns: 150, seed: 12 },
    );
  });

  it('a retryOn that throws, or a progress message that cannot be read, does not break the run', async () => {
    const h = harness();
    h.scheduler.add({
      name: 'retry-on-throws',
      schedule: { every: '1m' },
      retry: { attempts: 3, retryOn: () => { throw revokedProxy(); } },
      handler: (ctx) => {
        ctx.progress(0.5, revokedProxy() as unknown as string);
        ctx.progress(0.6, { toString() { throw new Error('no'); } } as unknown as string);
        throw new Error('fails');
      },
    });
    await h.scheduler.start();
    await h.clock.advance(1_000);
    await h.scheduler.onIdle();
    await h.scheduler.stop();
    assert.deepEqual(h.finished.map((r) => [r.status, r.retryAt]), [['failed', null]], 'a throwing retryOn means no retry');
    assert.equal(typeof h.finished[0]?.progress?.message, 'string');
  });
});
