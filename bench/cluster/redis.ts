/** Where the benchmark's Redis lives (for BullMQ); `CARETAKER_BENCH_REDIS` overrides. */
export const REDIS_URL = process.env.CARETAKER_BENCH_REDIS ?? 'redis://127.0.0.1:6379';

/** Commands Redis has processed so far (all clients). */
export async function redisCommandsSoFar(): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    const info = await redis.info('stats');
    return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN) - 1;
  } finally {
    redis.disconnect();
  }
}

export async function flushRedis(): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL);
  try {
    await redis.flushall();
  } finally {
    redis.disconnect();
  }
}
