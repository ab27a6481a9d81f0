import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeCron } from '../../../src/engine/schedules/cron-describe.ts';
import { cronProblem } from '../../../src/engine/schedules/cron-fields.ts';
import { createScheduler } from '../../../src/index.ts';

describe('cron in words', () => {
  const cases: [expression: string, zone: string, words: string][] = [
    // fixed times of day always say their zone: 02:00 in Berlin is not 02:00 in UTC
    ['0 2 * * *', 'Europe/Berlin', 'at 02:00 every day, Europe/Berlin'],
    ['0 2 * * *', 'UTC', 'at 02:00 every day, UTC'],
    ['30 2 * * *', 'Europe/Berlin', 'at 02:30 every day, Europe/Berlin'],
    ['0 30 2 * * *', 'UTC', 'at 02:30 every day, UTC'],
    ['15 30 2 * * *', 'UTC', 'at 02:30:15 every day, UTC'],
    ['0 9 * * 1-5', 'America/New_York', 'at 09:00 on Monday to Friday, America/New_York'],
    ['0 9 * * MON-FRI', 'America/New_York', 'at 09:00 on Monday to Friday, America/New_York'],
    ['0 9 ? * mon-fri', 'America/New_York', 'at 09:00 on Monday to Friday, America/New_York'],
    ['0 9,17 * * *', 'UTC', 'at 09:00 and 17:00 every day, UTC'],
    ['0 */6 * * *', 'UTC', 'at 00:00, 06:00, 12:00 and 18:00 every day, UTC'],
    ['*/15 9 * * *', 'UTC', 'at 09:00, 09:15, 09:30 and 09:45 every day, UTC'],
    ['0 0 * * 0', 'UTC', 'at 00:00 on Sunday, UTC'],
    ['0 0 * * 7', 'UTC', 'at 00:00 on Sunday, UTC'],
    ['0 0 * * SAT-SUN', 'UTC', 'at 00:00 on Saturday and Sunday, UTC'],
    ['0 0 * * 0,6', 'UTC', 'at 00:00 on Saturday and Sunday, UTC'],
    ['0 0 * * 5-7', 'UTC', 'at 00:00 on Friday to Sunday, UTC'],
    ['0 0 * * 1-5/2', 'UTC', 'at 00:00 on Monday, Wednesday and Friday, UTC'],
    ['0 0 * * 0-6', 'UTC', 'at 00:00 every day, UTC'],
    ['0 0 1 * *', 'UTC', 'at 00:00 on day 1 of the month, UTC'],
    ['0 0 1,15 * *', 'UTC', 'at 00:00 on days 1 and 15 of the month, UTC'],
    ['0 0 1-7 * *', 'UTC', 'at 00:00 on days 1 to 7 of the month, UTC'],
    ['0 0 L * *', 'UTC', 'at 00:00 on the last day of the month, UTC'],
    ['0 0 15,L * *', 'UTC', 'at 00:00 on day 15 and the last day of the month, UTC'],
    ['0 0 * * 5L', 'UTC', 'at 00:00 on the last Friday of the month, UTC'],
    ['0 0 * * MON#2', 'UTC', 'at 00:00 on the second Monday of the month, UTC'],
    // croner: two restricted day fields match either way
    ['0 0 1 * 1', 'UTC', 'at 00:00 on day 1 of the month or on Monday, UTC'],
    ['0 0 1 * 0-6', 'UTC', 'at 00:00 every day, UTC'],
    ['0 0 1 1 *', 'UTC', 'at 00:00 on January 1, UTC'],
    ['0 0 * 1 *', 'UTC', 'at 00:00 every day in January, UTC'],
    ['0 0 * 3-5 *', 'UTC', 'at 00:00 every day in March to May, UTC'],
    ['0 0 1 1,7 *', 'UTC', 'at 00:00 on day 1 of the month in January and July, UTC'],
    ['@yearly', 'UTC', 'at 00:00 on January 1, UTC'],
    ['@monthly', 'Europe/Berlin', 'at 00:00 on day 1 of the month, Europe/Berlin'],
    ['@weekly', 'UTC', 'at 00:00 on Sunday, UTC'],
    ['@daily', 'Europe/Berlin', 'at 00:00 every day, Europe/Berlin'],
    // cadences within the hour are the same in every whole-hour zone, so they name none
    ['*/15 * * * *', 'Europe/Berlin', 'every 15 minutes'],
    ['0,15,30,45 * * * *', 'UTC', 'every 15 minutes'],
    ['* * * * *', 'UTC', 'every minute'],
    ['30 * * * *', 'UTC', 'at minute 30 of every hour'],
    ['0 * * * *', 'America/New_York', 'every hour, on the hour'],
    ['@hourly', 'UTC', 'every hour, on the hour'],
    ['0 * * * 1-5', 'UTC', 'at minute 0 of every hour on Monday to Friday, UTC'],
    ['5,35 * * * *', 'UTC', 'at minutes 5 and 35 of every hour'],
    ['0-30/15 * * * *', 'UTC', 'at minutes 0, 15 and 30 of every hour'],
    ['0-30/10 * * * * *', 'UTC', 'cron "0-30/10 * * * * *", UTC'],
    ['*/15 * * * * *', 'UTC', 'every 15 seconds'],
    ['* * * * * *', 'UTC', 'every second'],
    ['30 * * * * *', 'UTC', 'at second 30 of every minute'],
    // …except in a zone whose offset has minutes: minute 30 in Kolkata is minute 0 in UTC
    ['30 * * * *', 'Asia/Kolkata', 'at minute 30 of every hour, Asia/Kolkata'],
    ['*/15 * * * *', 'Australia/Lord_Howe', 'every 15 minutes, Australia/Lord_Howe'],
    // …and as soon as days or hours are named
    ['*/15 * * * 1-5', 'UTC', 'every 15 minutes on Monday to Friday, UTC'],
    ['*/15 9-17 * * 1-5', 'America/New_York', 'every 15 minutes from 09:00 to 17:59 on Monday to Friday, America/New_York'],
    ['* 9 * * *', 'UTC', 'every minute from 09:00 to 09:59, UTC'],
    ['30 9-17 * * *', 'UTC', 'every hour from 09:30 to 17:30, UTC'],
    ['0 */2 * * *', 'UTC', 'every 2 hours from 00:00 to 22:00, UTC'],
    ['15 */3 * * *', 'Europe/Berlin', 'every 3 hours from 00:15 to 21:15, Europe/Berlin'],
    // the honest fallback: the expression and the zone
    ['*/7 * * * *', 'UTC', 'cron "*/7 * * * *", UTC'],
    ['0 0 15W * *', 'UTC', 'cron "0 0 15W * *", UTC'],
    ['0 0 LW * *', 'UTC', 'cron "0 0 LW * *", UTC'],
    ['0 0 1-7 * +1', 'UTC', 'cron "0 0 1-7 * +1", UTC'],
    ['0 0 */2 * *', 'Europe/Berlin', 'cron "0 0 */2 * *", Europe/Berlin'],
    ['0 9,12,17 * * *', 'UTC', 'at 09:00, 12:00 and 17:00 every day, UTC'],
    // croner checks only the values a stepped range reaches (found by the fuzz suite)
    ['0 0 5-50/23 * *', 'UTC', 'at 00:00 on days 5 and 28 of the month, UTC'],
    ['0,30 9,12,17,20 * * *', 'UTC', 'cron "0,30 9,12,17,20 * * *", UTC'],
    ['*/15 9,12 * * *', 'UTC', 'cron "*/15 9,12 * * *", UTC'],
  ];
  for (const [expression, zone, words] of cases) {
    it(`${expression} (${zone}): ${words}`, () => assert.equal(describeCron(expression, zone), words));
  }

  it('scheduler.tasks() and the task info carry the words; every and at keep theirs, at says UTC', async () => {
    const scheduler = createScheduler();
    scheduler.add({ name: 'nightly', schedule: { cron: '0 2 * * *', timezone: 'Europe/Berlin' }, handler: () => {} });
    scheduler.add({ name: 'often', schedule: { every: '6h' }, handler: () => {} });
    scheduler.add({ name: 'once', schedule: { at: '2099-12-01T03:00:00+01:00' }, handler: () => {} });
    assert.deepEqual(
      scheduler.tasks().map((t) => t.scheduleText),
      ['at 02:00 every day, Europe/Berlin', 'every 6h', 'once at 2099-12-01T02:00:00Z (UTC)'],
    );
    await scheduler.stop();
  });
});

describe('cron problems in our words', () => {
  const cases: [expression: string, problem: string][] = [
    ['0 0 -1 * *', 'day-of-month must be 1-31 (field 3)'],
    ['0 0 0 * *', 'day-of-month must be 1-31 (field 3)'],
    ['61 * * * *', 'minute must be 0-59 (field 1)'],
    ['0 25 * * *', 'hour must be 0-23 (field 2)'],
    ['0 0 * 13 *', 'month must be 1-12 or JAN-DEC (field 4)'],
    ['0 0 * * 8', 'day-of-week must be 0-7 (0 and 7 are Sunday) or SUN-SAT (field 5)'],
    ['60 0 0 * * *', 'second must be 0-59 (field 1)'],
    ['0 60 0 * * *', 'minute must be 0-59 (field 2)'],
    ['* * *', 'has 3 fields; use 5 fields "minute hour day-of-month month day-of-week", 6 with seconds first, or a nickname like "@daily"'],
    ['0 0 * * * * 2027', 'has 7 fields, but a year field is not supported; use 5 fields "minute hour day-of-month month day-of-week", or 6 with seconds first'],
    ['*/0 * * * *', 'minute step must be 1-60, as in "*/15" (field 1)'],
    ['0 */25 * * *', 'hour step must be 1-24, as in "*/15" (field 2)'],
    ['0 0 5-50/10 * *', 'day-of-month must be 1-31 (field 3)'],
    ['5/10 * * * *', 'minute "5/10": a step needs "*" or a range before the "/", as in "*/10" or "0-59/10" (field 1)'],
    ['5-1 * * * *', 'minute range "5-1" runs backwards; put the smaller value first, or list the values (field 1)'],
    ['1,,2 * * * *', 'minute "1,,2" has an empty item; remove the extra comma (field 1)'],
    ['1-2-3 * * * *', 'minute "1-2-3" is not a range; write it as "a-b", as in "1-5" (field 1)'],
    ['0 0 * JANUARY *', 'month "JANUARY" is not a number or a name (JAN, FEB, …); use 1-12 or JAN-DEC, "*", a range "a-b", a list "a,b" or a step "*/n" (field 4)'],
    ['x 0 * * *', 'minute "x" is not a number; use 0-59, "*", a range "a-b", a list "a,b" or a step "*/n" (field 1)'],
    ['0 0 * * 1#6', 'day-of-week "1#6": the number after "#" must be 1-5 (or L for the last), as in "1#2" for the second Monday (field 5)'],
    ['0 0 1#2 * *', 'day-of-month "1#2": "#" (the n-th weekday) belongs in day-of-week (field 3)'],
    ['0 0 * * 1W', 'day-of-week "1W": "W" (the nearest weekday) belongs in day-of-month (field 5)'],
    ['0 0 L-3 * *', 'day-of-month "L-3": "L" (the last day) and "W" (the nearest weekday, as in "15W") stand alone, without ranges or steps (field 3)'],
    ['0 0 * * +', 'day-of-week "+" needs days after it, e.g. "+1-5" (field 5)'],
    ['@reboot', '"@reboot" means "at start-up", which is no schedule; use a nickname like "@daily" or a 5-field expression'],
    ['@every 5m', 'unknown nickname "@every"; use @yearly, @monthly, @weekly, @daily or @hourly, or { every: "5m" } for an interval'],
  ];
  for (const [expression, problem] of cases) {
    it(`${expression}: ${problem}`, () => assert.equal(cronProblem(expression), problem));
  }
});
