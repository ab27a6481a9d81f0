import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { EventLog, LoggedEvent } from './event-log.ts';

/** A comment line this often keeps proxies and browsers from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000;

/**
 * `GET /api/events`: server-sent events. A client that reconnects with `Last-Event-ID` gets
 * the events it missed, in order, without duplicates; when they are no longer held it gets
 * `reset` and refetches. A new client first gets `ready`, whose id it resumes from.
 */
export function eventStream(c: Context, log: EventLog, instance: string): Response {
  const header = c.req.header('last-event-id');
  return streamSSE(c, async (stream) => {
    const pending: LoggedEvent[] = [];
    let wake: (() => void) | null = null;
    // Subscribing and reading the backlog happen in one synchronous step: no event falls between.
    const off = log.subscribe((event) => {
      pending.push(event);
      wake?.();
    });
    stream.onAbort(() => {
      off();
      wake?.();
    });
    const resumeFrom = header === undefined || !/^\d+$/.test(header) ? null : Number(header);
    const missed = resumeFrom === null ? null : log.since(resumeFrom);
    const head = log.nextId - 1;
    let lastSent = resumeFrom ?? head;
    try {
      if (missed === null) {
        await stream.writeSSE({ event: resumeFrom === null ? 'ready' : 'reset', id: String(head), data: JSON.stringify({ instance, lastEventId: head }) });
        lastSent = head;
      } else pending.unshift(...missed);
      while (!stream.aborted) {
        while (pending.length > 0) {
          const event = pending.shift() as LoggedEvent;
          if (event.id <= lastSent) continue;
          await stream.writeSSE({ id: String(event.id), event: event.event, data: event.data });
          lastSent = event.id;
        }
        const timedOut = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(true), KEEP_ALIVE_MS);
          wake = () => {
            clearTimeout(timer);
            resolve(false);
          };
        });
        wake = null;
        if (timedOut && !stream.aborted) await stream.write(': keep-alive\n\n');
      }
    } finally {
      off();
    }
  });
}
