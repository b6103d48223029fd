/** Discord-style snowflakes: milliseconds since the Discord epoch in the top 42 bits. */
const DISCORD_EPOCH = 1_420_070_400_000n;
let increment = 0n;

/** A fresh snowflake for the given time (default: now). 19 digits for current dates, like real ids. */
export function snowflake(ms: number = Date.now()): string {
  increment = (increment + 1n) & 0xfffn;
  const id = ((BigInt(Math.floor(ms)) - DISCORD_EPOCH) << 22n) | (1n << 17n) | (7n << 12n) | increment;
  return id.toString();
}

/** The creation time encoded in a snowflake. */
export function snowflakeTime(id: string): number {
  return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
}
