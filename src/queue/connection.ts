import { Redis } from 'ioredis';

/**
 * Connections for BullMQ. Workers and subscribers wait out a Redis restart (maxRetriesPerRequest
 * null, as BullMQ requires); nothing is dropped while the connection comes back.
 */
export function redisConnection(url: string, name: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    connectionName: `kinema-${name}`,
    // Reconnect forever with a capped delay: a Redis restart must not end the process.
    retryStrategy: (times) => Math.min(times * 200, 5_000),
  });
}

export const GENERATE_QUEUE = 'generate';
export const deliveryQueueName = (platform: string) => `deliver-${platform}`;
