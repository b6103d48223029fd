import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';
import { processRedisOutage, type RedisOutage } from './redis-outage.js';

/**
 * A connection whose failures go to the process's outage record instead of to its 'error'
 * listeners (BullMQ re-emits each one on every queue and worker, or prints it when nobody listens).
 * Its duplicates, BullMQ's own included, report to the same record.
 */
class WatchedRedis extends Redis {
  outage?: RedisOutage;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'error' && this.outage) {
      this.outage.connectionFailed(args[0]);
      return true;
    }
    if (event === 'ready') this.outage?.connectionReady();
    return super.emit(event, ...args);
  }

  /**
   * While Redis is away, a QUIT behind other queued commands would wait for the reconnect, and every
   * close with it (BullMQ's included); there is nobody to say goodbye to, so the connection just ends.
   */
  override quit(callback?: (error?: Error | null, result?: 'OK') => void): Promise<'OK'> {
    if (this.status === 'ready') return super.quit(callback);
    this.disconnect();
    callback?.(null, 'OK');
    return Promise.resolve('OK');
  }

  override disconnect(reconnect = false): void {
    // Between two reconnect attempts there is no socket whose close would end the connection, so
    // ioredis would stay 'reconnecting' for good, with its queued commands and whoever awaits 'end'
    // (BullMQ's closes). From 'wait' it ends the connection at once, as if it had never connected.
    if (!reconnect && this.status === 'reconnecting') this.status = 'wait';
    super.disconnect(reconnect);
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    // Same options as ioredis's own duplicate(); the cast only narrows replyMapping, which Kinema never sets.
    const options = { ...this.options, ...override } as RedisOptions & { replyMapping?: 'legacy' };
    return watched(new WatchedRedis(options), this.outage);
  }
}

function watched(client: WatchedRedis, outage: RedisOutage | undefined): WatchedRedis {
  client.outage = outage;
  // ioredis calls emit('error') only when an 'error' listener exists, and prints the error otherwise.
  client.on('error', () => undefined);
  return client;
}

/**
 * Connections for BullMQ. Workers and subscribers wait out a Redis restart (maxRetriesPerRequest
 * null, as BullMQ requires); nothing is dropped while the connection comes back. An outage is
 * logged by the process's `RedisOutage`, not by each connection.
 */
export function redisConnection(
  url: string,
  name: string,
  log: Pick<Logger, 'error' | 'info'>,
  outage: RedisOutage = processRedisOutage(log),
): Redis {
  const client = new WatchedRedis(url, {
    maxRetriesPerRequest: null,
    connectionName: `kinema-${name}`,
    // Reconnect forever with a capped delay: a Redis restart must not end the process.
    retryStrategy: (times) => Math.min(times * 200, 5_000),
  });
  return watched(client, outage);
}

export const GENERATE_QUEUE = 'generate';
export const deliveryQueueName = (platform: string) => `deliver-${platform}`;
