import type { BoundSchedule, ScheduleDefinition } from './types.ts';

/** A one-off tick. */
export class AtSchedule implements ScheduleDefinition, BoundSchedule {
  readonly kind = 'at';
  readonly key: string;
  readonly instant: number;
  readonly anchor = null;

  constructor(instant: number) {
    this.instant = instant;
    this.key = `at:${instant}`;
  }

  get spec(): { at: string } {
    return { at: new Date(this.instant).toISOString() };
  }

  initialAnchor(): null {
    return null;
  }

  bind(): AtSchedule {
    return this;
  }

  nextAfter(instant: number): number | null {
    return instant < this.instant ? this.instant : null;
  }

  previousBefore(instant: number): number | null {
    return this.instant < instant ? this.instant : null;
  }

  describe(): string {
    return `once at ${new Date(this.instant).toISOString()}`;
  }
}
