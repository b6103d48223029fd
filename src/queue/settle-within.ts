/**
 * Waits for `work` at most `ms`: true when it settled in time (resolved or rejected), false when the
 * time ran out first. Shutdown steps that need Redis go through this, so a stop never waits for an
 * outage to end; whatever did not finish is left for BullMQ's stall check once Redis is back.
 */
export async function settlesWithin(work: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!work) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(settled, settled), timeUp]);
  } finally {
    clearTimeout(timer);
  }
}

const settled = () => true as const;
