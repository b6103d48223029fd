import { createHash, timingSafeEqual } from 'node:crypto';

/** Whether `given` is `expected`, in constant time whatever their lengths (both hashed first). */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected)) && expected.length > 0;
}
