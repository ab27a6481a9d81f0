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

  /** The instant in UTC, said twice ("Z" and "UTC"): a reader who does not know the "Z" would take it for local time. */
  describe(): string {
    return `once at ${new Date(this.instant).toISOString().replace('.000Z', 'Z')} (UTC)`;
  }
}
