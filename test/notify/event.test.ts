import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { escapeSlack, genericBody, NOTIFY_KINDS, type NotifyEvent, SLACK_TEXT_MAX, slackBody } from '../../src/notify/event.ts';
import { FAILED } from './fixtures.ts';


/** Every text object of a Slack body, the fallback included. */
function texts(body: ReturnType<typeof slackBody>): string[] {
  return [body.text, ...body.blocks.flatMap((b) => (b.type === 'section' ? [b.text.text] : b.elements.map((e) => e.text)))];
}

/**
 * Escaped as Slack requires: no raw `<` or `>`, and every `&` starts one of the three entities.
 * The one `>` of ours is the quote that starts the error's line.
 */
function escapedOk(text: string): boolean {
  const content = text.replaceAll('\n>', '\n');
  return !/[<>]/.test(content) && !/&(?!amp;|lt;|gt;)/.test(content);
}

/** No lone surrogate: a cut between the halves of a pair would show as garbage. */
function wellFormed(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

describe('genericBody', () => {
  it('is the event with version 1 and every field, dashboardUrl null when not given', () => {
    assert.deepEqual(genericBody(FAILED), { version: 1, ...FAILED, dashboardUrl: null });
    assert.equal(genericBody({ ...FAILED, dashboardUrl: 'https://ops.example.com/runs/run-1' }).dashboardUrl, 'https://ops.example.com/runs/run-1');
  });

  it('an event without a run (stale, missed) has run: null', () => {
    const stale: NotifyEvent = { id: 'stale:db-backup:2026-01-01', kind: 'stale', task: 'db-backup', at: FAILED.at, message: 'db-backup has not succeeded for 2d', run: null };
    assert.equal(genericBody(stale).run, null);
    assert.deepEqual(JSON.parse(JSON.stringify(genericBody(stale))), { version: 1, ...stale, dashboardUrl: null });
  });

  it('a huge message or run error is cut to 4096 characters with …', () => {
    const body = genericBody({ ...FAILED, message: 'm'.repeat(100_000), run: { ...FAILED.run!, error: 'e'.repeat(100_000) } });
    assert.equal(body.message.length, 4_096);
    assert.ok(body.message.endsWith('…'));
    assert.equal(body.run?.error?.length, 4_096);
  });
});

describe('slackBody', () => {
  it('a fallback text, a section with the task and message, a context line with run, attempt, duration, time and link', () => {
    const body = slackBody({ ...FAILED, dashboardUrl: 'https://ops.example.com/runs/run-1?x=1&y=2' });
    assert.equal(body.text, 'db-backup failed after 3 attempts: connection refused');
    assert.deepEqual(body.blocks, [
      { type: 'section', text: { type: 'mrkdwn', text: ':red_circle: *db-backup* failed\ndb-backup failed after 3 attempts: connection refused' } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'run run-1 · attempt 3 · 1s250ms · 2026-01-01T02:00:31.000Z · <https://ops.example.com/runs/run-1?x=1&amp;y=2|open in dashboard>' }] },
    ]);
  });

  it('the run error is quoted when the message does not already say it', () => {
    const body = slackBody({ ...FAILED, message: 'db-backup failed after 3 attempts', run: { ...FAILED.run!, error: 'disk full\nat write()' } });
    const section = body.blocks[0];
    assert.equal(section?.type === 'section' && section.text.text, ':red_circle: *db-backup* failed\ndb-backup failed after 3 attempts\n>disk full at write()');
  });

  it('escapes &, < and > in the task, message and error', () => {
    const body = slackBody({ ...FAILED, task: 'a<b>&c', message: 'x <!channel> & <https://evil|click>', run: { ...FAILED.run!, error: '<@U123>' } });
    for (const text of texts(body)) assert.ok(escapedOk(text), text);
    assert.match(body.text, /&lt;!channel&gt; &amp; &lt;https:\/\/evil\|click&gt;/);
  });

  it('a link only for an http(s) dashboard URL, with | < > made harmless', () => {
    const context = (url: string) => {
      const block = slackBody({ ...FAILED, dashboardUrl: url }).blocks[1];
      return block?.type === 'context' ? (block.elements[0]?.text ?? '') : '';
    };
    assert.ok(!context('javascript:alert(1)').includes('<'));
    assert.match(context('https://x.example/a|b<c>'), /<https:\/\/x\.example\/a%7Cb%3Cc%3E\|open in dashboard>$/);
  });

  it('a long error is cut with … and every text stays within Slack\'s 3000 characters', () => {
    const body = slackBody({ ...FAILED, message: 'db-backup failed', run: { ...FAILED.run!, error: '&'.repeat(50_000) } });
    for (const text of texts(body)) {
      assert.ok(text.length <= SLACK_TEXT_MAX, String(text.length));
      assert.ok(escapedOk(text));
    }
    const section = body.blocks[0];
    assert.ok(section?.type === 'section' && section.text.text.endsWith('…'));
  });

  it('each kind has its own wording', () => {
    const titles = NOTIFY_KINDS.map((kind) => {
      const section = slackBody({ ...FAILED, kind, run: null }).blocks[0];
      return section?.type === 'section' ? section.text.text.split('\n')[0] : '';
    });
    assert.deepEqual(titles, [':red_circle: *db-backup* failed', ':large_green_circle: *db-backup* recovered', ':hourglass: *db-backup* is stale', ':warning: *db-backup* missed a run']);
  });

  it('escapeSlack replaces exactly &, < and >', () => {
    assert.equal(escapeSlack('a & b < c > d "e" \'f\' *g*'), 'a &amp; b &lt; c &gt; d "e" \'f\' *g*');
  });
});

const text = (maxLength: number) => fc.oneof(fc.string({ maxLength }), fc.string({ unit: 'binary', maxLength }), fc.stringMatching(/^[&<>a-z ]{0,40}$/));
const longText = fc.oneof(text(200), fc.tuple(fc.constantFrom('&', '<', '>', 'é', '😀', 'a'), fc.integer({ min: 1, max: 20_000 })).map(([c, n]) => c.repeat(n)));
const eventArb: fc.Arbitrary<NotifyEvent> = fc
  .record({
    id: text(60),
    kind: fc.constantFrom(...NOTIFY_KINDS),
    task: fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,40}$/), longText),
    at: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    message: longText,
    run: fc.option(
      fc.record({
        id: text(40),
        status: fc.constantFrom('failed', 'succeeded', 'timed_out'),
        scheduledFor: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        attempt: fc.integer({ min: 1, max: 1000 }),
        durationMs: fc.option(fc.nat()),
        error: fc.option(longText),
      }),
    ),
    dashboardUrl: fc.option(fc.oneof(fc.webUrl(), text(50))),
  })
  // fast-check types optional-looking fields as possibly undefined; every one here is set.
  .map((event) => event as NotifyEvent);

describe('bodies for any event (fast-check)', () => {
  it('slackBody never throws, is JSON, escaped, without lone surrogates, every text within 3000 characters', () => {
    fc.assert(
      fc.property(eventArb, (event) => {
        const body = slackBody(event);
        const round = JSON.parse(JSON.stringify(body)) as unknown;
        assert.deepEqual(round, body);
        assert.ok(body.blocks.length >= 1 && body.blocks.length <= 50);
        for (const [i, t] of texts(body).entries()) {
          assert.ok(t.length <= SLACK_TEXT_MAX, `text ${i} has ${t.length} characters`);
          // The context's dashboard link is the one markup Slack gets from us.
          assert.ok(escapedOk(t.replace(/ · <https?:\/\/[^<>|\s]*\|open in dashboard>$/, '')), t);
          if (!/[\uD800-\uDFFF]/.test(event.task + event.message + (event.run?.error ?? '') + (event.run?.id ?? '') + event.at)) assert.ok(wellFormed(t));
        }
      }),
      { numRuns: 300, seed: 20260115 },
    );
  });

  it('a cut never splits a surrogate pair or an entity', () => {
    fc.assert(
      fc.property(fc.constantFrom('😀', '&', '<', 'a'), fc.integer({ min: 1, max: 5_000 }), fc.string({ maxLength: 3 }), (c, n, prefix) => {
        for (const t of texts(slackBody({ ...FAILED, message: prefix.replace(/[\uD800-\uDFFF]/g, '') + c.repeat(n), run: { ...FAILED.run!, error: c.repeat(n) } }))) {
          assert.ok(wellFormed(t), t.slice(-10));
          assert.ok(escapedOk(t.replace(/ · <https?:[^>]*>$/, '')));
        }
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('genericBody never throws and survives a JSON round trip with version 1', () => {
    fc.assert(
      fc.property(eventArb, (event) => {
        const body = genericBody(event);
        assert.equal(body.version, 1);
        assert.deepEqual(JSON.parse(JSON.stringify(body)), body);
        assert.equal(body.task, event.task);
        assert.ok(body.message.length <= 4_096);
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});
