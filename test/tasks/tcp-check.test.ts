import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type TcpCheckResult, tcpCheck } from 'caretaker/tasks';
import { InvalidOptionError } from '../../src/util/errors.ts';
import { fakeContext } from './context.ts';

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('tcpCheck', () => {
  let server: net.Server;
  let port: number;
  let accepted = 0;

  before(async () => {
    server = net.createServer((socket) => {
      accepted++;
      socket.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('connects, closes at once and reports latency', async () => {
    const before = accepted;
    const result = (await tcpCheck({ host: '127.0.0.1', port })(fakeContext())) as TcpCheckResult;
    assert.deepEqual({ ...result, latencyMs: 0 }, { host: '127.0.0.1', port, ok: true, latencyMs: 0, consecutiveFailures: 0 });
    assert.ok(result.latencyMs >= 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(accepted, before + 1);
  });

  it('counts refused connections as misses and fails the run at failAfter', async () => {
    const dead = await closedPort();
    const handler = tcpCheck({ host: '127.0.0.1', port: dead, failAfter: 2, timeout: '2s' });
    const first = (await handler(fakeContext())) as TcpCheckResult;
    assert.equal(first.ok, false);
    assert.equal(first.consecutiveFailures, 1);
    assert.match(first.error ?? '', /ECONNREFUSED/);
    await assert.rejects(async () => handler(fakeContext()), new RegExp(`tcp://127\\.0\\.0\\.1:${dead}: connect ECONNREFUSED.*2 consecutive failures, failAfter 2`));
  });

  it('rethrows the run’s abort rather than counting a miss', async () => {
    const controller = new AbortController();
    const reason = new Error('shutdown');
    controller.abort(reason);
    await assert.rejects(async () => tcpCheck({ host: '127.0.0.1', port })(fakeContext({ signal: controller.signal })), (e: unknown) => e === reason);
  });

  it('validates options at the factory call', () => {
    assert.throws(
      () => tcpCheck({ host: '', port: 70_000, timeout: 'soon' }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidOptionError);
        assert.deepEqual(e.issues.map((i) => i.path).sort(), ['host', 'port', 'timeout']);
        return true;
      },
    );
  });
});
