import type { webApi } from '@slack/bolt';
import type { Logger } from '../../log.js';

interface UserInfo {
  name: string;
  /** Workspace admin or owner: may cancel anyone's job. */
  canModerate: boolean;
}

/** users.info, cached for a few minutes: display names and the admin/owner check (scope users:read). */
export class SlackUsers {
  private readonly cache = new Map<string, { at: number; info: Promise<UserInfo> }>();

  constructor(
    private readonly client: webApi.WebClient,
    private readonly log: Logger,
    private readonly ttlMs = 5 * 60_000,
  ) {}

  private info(userId: string): Promise<UserInfo> {
    const cached = this.cache.get(userId);
    if (cached && Date.now() - cached.at < this.ttlMs) return cached.info;
    const info = this.client.users.info({ user: userId }).then(
      ({ user }) => ({
        name: user?.profile?.display_name || user?.real_name || user?.name || userId,
        canModerate: Boolean(user?.is_admin || user?.is_owner || user?.is_primary_owner),
      }),
      (error: unknown) => {
        this.cache.delete(userId);
        this.log.warn({ err: error, userId }, 'users.info failed; treating the user as a member');
        return { name: userId, canModerate: false };
      },
    );
    this.cache.set(userId, { at: Date.now(), info });
    return info;
  }

  async displayName(userId: string): Promise<string> {
    return (await this.info(userId)).name;
  }

  async canModerate(userId: string): Promise<boolean> {
    return (await this.info(userId)).canModerate;
  }
}
