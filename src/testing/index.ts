/**
 * Test helpers: `import { createTestClock } from 'caretaker/testing'`.
 * @packageDocumentation
 */
export { createTestClock, type TestClock, type TestClockOptions } from './test-clock.ts';
