import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { GenerationService } from '../service/generation-service.js';
import type { PublicLinks } from '../service/public-links.js';

/** What an entry point hands every platform: the service is their only door to jobs. */
export interface PlatformContext {
  config: Config;
  service: GenerationService;
  /** For the platform's own bookkeeping (which message shows which job). */
  redis: Redis;
  log: Logger;
  /** Links to videos too large to upload, served by `httpRoutes`. */
  links: PublicLinks;
  /**
   * The service's own HTTP routes (/healthz, /videos/…). main serves them on HTTP_PORT, unless a
   * platform takes that port (Slack's HTTP receiver) and mounts them itself.
   */
  httpRoutes: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

export interface PlatformHandle {
  name: string;
  /** True when the platform serves `httpRoutes` on HTTP_PORT itself. */
  servesHttp?: boolean;
  stop(): Promise<void>;
}
