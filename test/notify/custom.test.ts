import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { buildChannels, customChannel } from '../../src/notify/channels.ts';
import { resolveNotify } from '../../src/notify/config.ts';
import { isRetryable, NotifyDeliveryError } from '../../src/notify/delivery-error.ts';
import type { NotifyEvent } from '../../src/notify/event.ts';
import { failure, signal } from './fixtures.ts';

const EVENT: NotifyEvent = { id: 'missed:db-backup:2026-01-01T02:00:00.000Z', kind: 'missed', task: 'db-backup', at: '2026-01-01T02:05:00.000Z', message: 'db-backup missed its 02:00 run', run: null };


describe('custom channel', () => {
  it('calls send with the event and a live signal; resolving is delivered', async () => {
    const calls: [NotifyEvent, AbortSignal][] = [];
    await customChannel('mine', { kind: 'custom', send: async (event, s) => void calls.push([event, s]), timeoutMs: 1_000 }).send(EVENT, signal());
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.[0], EVENT);
    assert.equal(calls[0]?.[1].aborted, false);
  });

  it('a throw (sync or async, Error or not) is a retryable delivery error naming the channel, the thrown value as cause', async () => {
    const boom = new Error('chat API down');
    for (const send of [
      async () => {
        throw boom;
      },
      () => {
        throw boom;
      },
    ]) {
      const error = await failure(customChannel('mine', { kind: 'custom', send: send as () => Promise<void>, timeoutMs: 1_000 }).send(EVENT, signal()));
      assert.equal(error.reason, 'threw');
      assert.equal(error.retryable, true);
      assert.equal(error.message, 'channel "mine": chat API down');
      assert.equal(error.cause, boom);
    }
    const text = await failure(customChannel('mine', { kind: 'custom', send: () => Promise.reject('nope'), timeoutMs: 1_000 }).send(EVENT, signal()));
    assert.equal(text.message, 'channel "mine": nope');
  });

  it('a send that ignores its signal and never settles fails at the timeout (retryable), its signal aborted', async () => {
    let seen: AbortSignal | undefined;
    const startedAt = Date.now();
    const error = await failure(
      customChannel('mine', {
        kind: 'custom',
        send: (_event, s) => {
          seen = s;
          return new Promise(() => {});
        },
        timeoutMs: 200,
      }).send(EVENT, signal()),
    );
    assert.equal(error.reason, 'timeout');
    assert.equal(error.retryable, true);
    assert.equal(error.message, 'channel "mine": send did not settle within 200ms');
    assert.equal(seen?.aborted, true);
    assert.ok(Date.now() - startedAt < 5_000);
  });

  it('the caller\'s abort rejects with its reason; an aborted signal does not call send', async () => {
    const controller = new AbortController();
    const reason = new Error('stopping');
    let calls = 0;
    const channel = customChannel('mine', { kind: 'custom', send: () => (calls++, new Promise(() => {})), timeoutMs: 10_000 });
    const pending = channel.send(EVENT, controller.signal);
    controller.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
    await assert.rejects(channel.send(EVENT, AbortSignal.abort(reason)), (e) => e === reason);
    assert.equal(calls, 1);
  });
});

describe('isRetryable', () => {
  it('a delivery error says itself; anything else thrown gets another attempt', () => {
    assert.equal(isRetryable(new NotifyDeliveryError({ channel: 'a', reason: 'status', retryable: false, message: 'x' })), false);
    assert.equal(isRetryable(new NotifyDeliveryError({ channel: 'a', reason: 'status', retryable: true, message: 'x' })), true);
    assert.equal(isRetryable(new TypeError('bug')), true);
  });

  it('NotifyDeliveryError is an Error named NotifyDeliveryError with every field set', () => {
    const error = new NotifyDeliveryError({ channel: 'a', reason: 'exit', retryable: true, message: 'm', exitCode: 2 });
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'NotifyDeliveryError');
    assert.deepEqual([error.status, error.body, error.exitCode, error.signal, error.stderr], [null, null, 2, null, null]);
  });
});

describe('buildChannels', () => {
  it('one channel per configured name, each delivering its own way', async () => {
    const delivered: string[] = [];
    const server: Server = createServer((req, res) => {
      req.resume().on('end', () => {
        delivered.push(`webhook ${req.headers['content-type']}`);
        res.end();
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
    try {
      const notify = resolveNotify({
        channels: {
          hook: { webhook: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` } },
          run: { command: [process.execPath, '-e', 'process.stdin.resume()'] },
          mine: { send: async (event: NotifyEvent) => void delivered.push(`custom ${event.kind}`) },
        },
      });
      const channels = buildChannels(notify);
      assert.deepEqual([...channels.keys()], ['hook', 'run', 'mine']);
      for (const [name, channel] of channels) {
        assert.equal(channel.name, name);
        await channel.send(EVENT, signal());
      }
      assert.deepEqual(delivered.sort(), ['custom missed', 'webhook application/json']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    }
  });
});
