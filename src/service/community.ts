import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { ModelId } from '../core/request.js';
import type { GenerationQueue } from '../queue/generation-queue.js';
import { RenderingSlots } from './caps.js';
import { HeldJobs } from './held-jobs.js';
import { AuditLog } from './moderation/audit-log.js';
import { ImageModerator } from './moderation/image-moderator.js';
import { type ImageClassifier, nsfwClassifier } from './moderation/nsfw-classifier.js';
import { TextModerator } from './moderation/text-moderator.js';
import { PauseControl } from './pause.js';
import { PersonHistory } from './person-history.js';
import type { QuotaLimits } from './quotas.js';
import { Quotas } from './quotas.js';
import {
  ServerSettings,
  type ServerSettingValues,
  type SettingsEnv,
  serverDefaults,
} from './server-settings.js';
import { PriceTable, Spend } from './spend.js';

/** The environment's community settings; anything left out takes its field's default. */
export type CommunityEnv = SettingsEnv &
  Partial<
    Pick<
      Config,
      | 'QUOTA_TOTAL_PER_DAY'
      | 'PRICE_TABLE'
      | 'PRICE_CURRENCY'
      | 'BOT_OWNER_IDS'
      | 'MODERATION_BLOCKLIST'
      | 'AUDIT_RETENTION_DAYS'
    >
  >;

export interface CommunityOptions {
  env: CommunityEnv;
  /** The model of a request that names none, unless a server set its own. */
  defaultModel: ModelId;
  /** The image classifier; the process's one nsfwjs thread unless a test gives another. */
  classifier?: ImageClassifier;
}

/**
 * What running Kinema for a community keeps in Redis, built once per process from the environment
 * and shared by the service (checks at submit, the commands' views) and the worker (its policy, the
 * outcome listener): per-server settings, quotas and spend, rendering slots, pauses, moderation,
 * the audit log and each person's recent jobs. Every part is stateless over Redis, so a bot and a
 * worker on different machines see the same.
 */
export class Community {
  readonly settings: ServerSettings;
  readonly quotas: Quotas;
  readonly prices: PriceTable;
  readonly spend: Spend;
  readonly slots: RenderingSlots;
  readonly capHeld: HeldJobs;
  readonly pause: PauseControl;
  readonly audit: AuditLog;
  readonly history: PersonHistory;
  /** The built-in list and the operator's MODERATION_BLOCKLIST; whether it runs is per server. */
  readonly text: TextModerator;
  readonly classifier: ImageClassifier;
  /** BOT_OWNER_IDS: `discord:<id>`, `slack:<id>`. */
  readonly owners: ReadonlySet<string>;
  readonly quotaTotal: number;

  constructor(redis: Redis, prefix: string, queue: GenerationQueue, options: CommunityOptions) {
    const { env } = options;
    this.settings = new ServerSettings(redis, prefix, serverDefaults(env, options.defaultModel));
    this.quotas = new Quotas(redis, prefix);
    const currency = env.PRICE_CURRENCY ?? 'USD';
    this.prices = new PriceTable(env.PRICE_TABLE ?? {}, currency);
    this.spend = new Spend(redis, prefix, currency);
    this.slots = new RenderingSlots(redis, prefix);
    this.capHeld = new HeldJobs(redis, prefix, queue, 'cap');
    this.pause = new PauseControl(redis, prefix, queue);
    this.audit = new AuditLog(redis, prefix, env.AUDIT_RETENTION_DAYS ?? 30);
    this.history = new PersonHistory(redis, prefix);
    this.text = new TextModerator({ enabled: true, blocklist: env.MODERATION_BLOCKLIST ?? [] });
    this.classifier = options.classifier ?? nsfwClassifier;
    this.owners = new Set(env.BOT_OWNER_IDS ?? []);
    this.quotaTotal = env.QUOTA_TOTAL_PER_DAY ?? 0;
  }

  /** The image check under a server's settings (switch and thresholds). */
  images(settings: ServerSettingValues): ImageModerator {
    return new ImageModerator(
      {
        enabled: settings.moderation_images,
        thresholds: {
          explicit: settings.moderation_nsfw_threshold,
          suggestive: settings.moderation_sexy_threshold,
        },
      },
      this.classifier,
    );
  }

  quotaLimits(settings: ServerSettingValues): QuotaLimits {
    return {
      person: settings.quota_per_user_per_day,
      server: settings.quota_per_server_per_day,
      total: this.quotaTotal,
    };
  }

  isOwner(platform: string, userId: string): boolean {
    return this.owners.has(`${platform}:${userId}`);
  }
}
