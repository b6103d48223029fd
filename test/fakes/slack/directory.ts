import type { JsonObject } from './types.js';
import { type ApiResult, fail, str } from './web-api-args.js';
import type { SlackWorkspace } from './workspace.js';

/** Who is who: auth.test (the bot itself), users.info and conversations.info. */
export class DirectoryApi {
  constructor(private readonly ws: SlackWorkspace) {}

  authTest(): ApiResult {
    const { teamDomain, botName, teamId, botUserId, botId } = this.ws;
    return {
      ok: true,
      url: `https://${teamDomain}.slack.com/`,
      team: 'Kinema Test',
      user: botName,
      team_id: teamId,
      user_id: botUserId,
      bot_id: botId,
      is_enterprise_install: false,
    };
  }

  conversationsInfo(args: JsonObject): ApiResult {
    const given = str(args.channel);
    const c = given ? this.ws.channels.get(this.ws.normalizeChannelId(given)) : undefined;
    if (!c) return fail('channel_not_found');
    return {
      ok: true,
      channel: {
        id: c.id,
        name: c.name,
        is_channel: !c.is_im && !c.is_private,
        is_group: false,
        is_im: c.is_im,
        is_mpim: false,
        is_private: c.is_private,
        is_archived: false,
        is_general: c.id === this.ws.defaultChannelId,
        is_member: c.is_member,
        created: 1_700_000_000,
        context_team_id: this.ws.teamId,
      },
    };
  }

  usersInfo(args: JsonObject): ApiResult {
    const id = str(args.user);
    const u = id ? this.ws.users.get(id) : undefined;
    if (!u) return fail('user_not_found');
    return {
      ok: true,
      user: {
        id: u.id,
        team_id: this.ws.teamId,
        name: u.name,
        deleted: u.deleted ?? false,
        real_name: u.real_name,
        tz: u.tz,
        is_bot: u.is_bot,
        is_app_user: false,
        is_admin: u.is_admin ?? false,
        is_owner: u.is_owner ?? false,
        is_primary_owner: false,
        profile: {
          real_name: u.real_name,
          display_name: u.name,
          ...(u.is_bot ? { bot_id: this.ws.botId } : {}),
          team: this.ws.teamId,
        },
      },
    };
  }
}
