import assert from 'node:assert/strict';
import type { NotifyEvent } from '../../src/notify/event.ts';
import { NotifyDeliveryError } from '../../src/notify/delivery-error.ts';

/** A failed-run alert, as the channels receive one. */
export const FAILED: NotifyEvent = {
  id: 'failed:run-1',
  kind: 'failed',
  task: 'db-backup',
  at: '2026-01-01T02:00:31.000Z',
  message: 'db-backup failed after 3 attempts: connection refused',
  run: { id: 'run-1', status: 'failed', scheduledFor: '2026-01-01T02:00:00.000Z', attempt: 3, durationMs: 1_250, error: 'connection refused' },
};

/** A signal nobody aborts. */
export const signal = () => new AbortController().signal;

/** The error a delivery failed with; fails the test if it succeeded or threw something else. */
export async function failure(promise: Promise<unknown>): Promise<NotifyDeliveryError> {
  const error = await promise.then(
    () => assert.fail('expected the delivery to fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof NotifyDeliveryError, String(error));
  return error;
}
