import type { CancelRequest, CancelResult } from '../queue/cancel.js';
import type { GenerationQueue } from '../queue/generation-queue.js';
import type { Community } from './community.js';
import { type JobView, jobViews } from './job-views.js';
import type { AuditRecord } from './moderation/index.js';
import type { PauseState } from './pause.js';
import { RefusedError } from './refusals.js';
import {
  parseServerSetting,
  SERVER_SETTING_NAMES,
  SERVER_SETTINGS,
  type ServerSettingName,
  type ServerSettingValues,
  type SetResult,
  serverOf,
} from './server-settings.js';
import type { SpendDay } from './spend.js';
import type { UserJobs } from './user-jobs.js';

/** Who acts, as their platform knows them. */
export interface AdminActor {
  platform: string;
  userId: string;
  displayName?: string;
  /** The server they act from (Discord guild id, `dm`, Slack team id), as `Requester.scopeId`. */
  serverId?: string;
  /** Manage Server on Discord, a workspace admin or owner on Slack. */
  serverAdmin: boolean;
}

/**
 * The operator at the web dashboard (they hold ADMIN_TOKEN): a bot owner. Recognised by identity,
 * so no platform can claim it by filling in fields.
 */
export const OPERATOR: AdminActor = Object.freeze({
  platform: 'dashboard',
  userId: 'operator',
  displayName: 'the operator',
  serverAdmin: true,
});

export interface ServerQueue {
  rendering: JobView[];
  /** In the order they will start (fair turns); held jobs last. */
  waiting: JobView[];
}

export interface SettingsView {
  /** What this server runs under now. */
  values: ServerSettingValues;
  /** What this server set itself (the rest comes from the environment). */
  overrides: Partial<ServerSettingValues>;
  defaults: ServerSettingValues;
  /** One line per setting, for help texts. */
  about: Record<ServerSettingName, string>;
}

/** Moderation settings a server admin may only make stricter: `looser(value, default)`. */
const LOOSER: Partial<Record<ServerSettingName, (value: unknown, fallback: unknown) => boolean>> = {
  moderation_text: (value, fallback) => fallback === true && value === false,
  moderation_images: (value, fallback) => fallback === true && value === false,
  moderation_allow_in_nsfw_channels: (value, fallback) => fallback === false && value === true,
  moderation_nsfw_threshold: (value, fallback) => Number(value) > Number(fallback),
  moderation_sexy_threshold: (value, fallback) => Number(value) > Number(fallback),
};

/**
 * What admins may do (`/kinema-admin`), platform-neutral. A server admin acts on their own server
 * only; a bot owner (BOT_OWNER_IDS) on any, and alone may pause the whole bot, read every server's
 * audit and the bot's total spend, and loosen moderation below the operator's settings.
 * Every method refuses with a RefusedError (`admin-only`, `other-server`) the platforms word.
 */
export class AdminDesk {
  constructor(
    private readonly community: Community,
    private readonly queue: GenerationQueue,
    private readonly serverJobs: UserJobs,
    private readonly cancelJob: (request: CancelRequest) => Promise<CancelResult>,
  ) {}

  isOwner(actor: AdminActor): boolean {
    return actor === OPERATOR || this.community.isOwner(actor.platform, actor.userId);
  }

  /** The actor's server, once they may administer it. */
  private server(actor: AdminActor): string {
    if (!actor.serverAdmin && !this.isOwner(actor)) {
      throw new RefusedError({ reason: 'admin-only', needs: 'server-admin' });
    }
    return serverOf({ platform: actor.platform, scopeId: actor.serverId });
  }

  private owner(actor: AdminActor): void {
    if (!this.isOwner(actor)) throw new RefusedError({ reason: 'admin-only', needs: 'bot-owner' });
  }

  /** Everything waiting and rendering for the actor's server, in fair order. */
  async serverQueue(actor: AdminActor): Promise<ServerQueue> {
    const [load, positions] = await Promise.all([
      this.serverJobs.load(this.server(actor)),
      this.queue.positions(),
    ]);
    return jobViews(load.jobs, positions);
  }

  /** Any job of the actor's server by id (a bot owner: any job at all). */
  async cancel(jobId: string, actor: AdminActor): Promise<CancelResult> {
    const server = this.server(actor);
    const record = await this.queue.records.get(jobId);
    if (!record) return 'unknown';
    if (serverOf(record.requester) !== server && !this.isOwner(actor)) {
      throw new RefusedError({ reason: 'other-server' });
    }
    return this.cancelJob({ jobId, by: `${actor.displayName ?? actor.userId} (admin)` });
  }

  async pauseServer(actor: AdminActor): Promise<PauseState> {
    const server = this.server(actor);
    await this.community.pause.pauseServer(server, actor.displayName ?? actor.userId);
    return this.community.pause.state(server);
  }

  /** `resumed`: how many held jobs went back in line. */
  async resumeServer(actor: AdminActor): Promise<PauseState & { resumed: number }> {
    const server = this.server(actor);
    const resumed = await this.community.pause.resumeServer(server);
    return { ...(await this.community.pause.state(server)), resumed };
  }

  async pauseBot(actor: AdminActor): Promise<PauseState> {
    this.owner(actor);
    await this.community.pause.pauseBot(actor.displayName ?? actor.userId);
    return this.community.pause.state(serverOf({ platform: actor.platform, scopeId: actor.serverId }));
  }

  async resumeBot(actor: AdminActor): Promise<PauseState> {
    this.owner(actor);
    await this.community.pause.resumeBot();
    return this.community.pause.state(serverOf({ platform: actor.platform, scopeId: actor.serverId }));
  }

  async pauseState(actor: AdminActor): Promise<PauseState> {
    return this.community.pause.state(this.server(actor));
  }

  async settings(actor: AdminActor): Promise<SettingsView> {
    const server = this.server(actor);
    const { settings } = this.community;
    const overrides = await settings.overrides(server);
    const about = Object.fromEntries(SERVER_SETTING_NAMES.map((name) => [name, SERVER_SETTINGS[name].about]));
    return {
      values: { ...settings.defaults, ...overrides },
      overrides,
      defaults: settings.defaults,
      about: about as Record<ServerSettingName, string>,
    };
  }

  /**
   * Sets one setting from what the admin typed, for the next request on; a value the environment
   * would refuse is refused with the same words. Only owners may loosen moderation.
   */
  async setSetting(actor: AdminActor, name: string, raw: string): Promise<SetResult> {
    const server = this.server(actor);
    const parsed = parseServerSetting(name, raw);
    if (!parsed.ok) return parsed;
    const looser = LOOSER[name as ServerSettingName];
    const fallback = this.community.settings.defaults[name as ServerSettingName];
    if (looser?.(parsed.value, fallback) && !this.isOwner(actor)) {
      return {
        ok: false,
        error: `${name} can only be made stricter than the bot's own setting (${JSON.stringify(fallback)}); ask the bot's owners`,
      };
    }
    return this.community.settings.set(server, name, raw);
  }

  /** Back to the environment's value. */
  async resetSetting(actor: AdminActor, name: string): Promise<SetResult> {
    const server = this.server(actor);
    if (!(name in SERVER_SETTINGS)) return parseServerSetting(name, '');
    await this.community.settings.reset(server, name as ServerSettingName);
    return { ok: true, value: this.community.settings.defaults[name as ServerSettingName] };
  }

  /** Newest first; `everywhere` (owners only) reads every server's records. */
  async audit(
    actor: AdminActor,
    query: { limit: number; before?: number; everywhere?: boolean },
  ): Promise<AuditRecord[]> {
    const server = this.server(actor);
    if (query.everywhere) this.owner(actor);
    return this.community.audit.recent({
      limit: query.limit,
      before: query.before,
      ...(query.everywhere ? {} : { serverId: actor.serverId ?? server }),
    });
  }

  /** Estimated spend per UTC day, newest first: the server's, and the bot's total for owners. */
  async spend(actor: AdminActor, days = 7): Promise<{ currency: string; days: SpendDay[] }> {
    const server = this.server(actor);
    const rows = await this.community.spend.days(days, server);
    const owner = this.isOwner(actor);
    return {
      currency: this.community.spend.currency,
      days: owner ? rows : rows.map(({ total: _total, ...row }) => row),
    };
  }
}
