import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Scheduler } from '../engine/scheduler.ts';
import { type AdminApi, type AdminApiOptions, createAdminApi } from '../http/admin-api.ts';

/** Options every framework integration takes. */
export interface IntegrationOptions extends Omit<AdminApiOptions, 'basePath'> {
  readonly scheduler: Scheduler;
  /** Where the admin API and dashboard are mounted. @defaultValue '/caretaker' */
  readonly prefix?: string;
  /** How long running runs get when the app closes. @defaultValue '30s' */
  readonly stopTimeout?: number | string;
}

/** The scheduler and its admin API, as an app mounts them: started with the app, stopped with it. */
export interface MountedCaretaker {
  readonly api: AdminApi;
  readonly prefix: string;
  /** A Node `(req, res)` listener for requests whose URL starts with the prefix. */
  readonly listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** Starts the scheduler (idempotent). */
  start(): Promise<void>;
  /** Stops the scheduler gracefully and closes the API (idempotent). */
  stop(): Promise<void>;
}

/** The part all integrations share. */
export function mountCaretaker(options: IntegrationOptions): MountedCaretaker {
  const { scheduler, prefix = '/caretaker', stopTimeout = '30s', ...apiOptions } = options;
  const api = createAdminApi({ ...apiOptions, scheduler, basePath: prefix });
  let started: Promise<void> | null = null;
  let stopped: Promise<void> | null = null;
  return {
    api,
    prefix,
    listener: getRequestListener(api.fetch),
    start: () => (started ??= scheduler.state === 'running' ? Promise.resolve() : scheduler.start()),
    stop: () =>
      (stopped ??= (async () => {
        try {
          if (scheduler.state !== 'idle') await scheduler.stop({ timeout: stopTimeout });
        } finally {
          api.close();
        }
      })()),
  };
}
