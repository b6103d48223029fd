import { PermissionFlagsBits, PermissionsBitField } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config.js';
import { refusal } from '../../../src/platforms/discord/guards.js';

const base = { KINEMA_ROLE: 'bot' };
const everything = new PermissionsBitField(
  PermissionFlagsBits.ViewChannel |
    PermissionFlagsBits.SendMessages |
    PermissionFlagsBits.EmbedLinks |
    PermissionFlagsBits.AttachFiles,
);
const place = {
  guildId: '111111111111111111',
  channelId: '222222222222222222',
  roleIds: ['333333333333333333'],
  appPermissions: everything,
};

describe('Discord guards', () => {
  it('lets a request through when no allowlist is set', () => {
    expect(refusal(parseConfig(base), place)).toBeUndefined();
  });

  it('keeps DMs off unless enabled', () => {
    expect(refusal(parseConfig(base), { ...place, guildId: null })).toMatch(/DMs are turned off/);
    expect(
      refusal(parseConfig({ ...base, DISCORD_ALLOW_DMS: 'true' }), { ...place, guildId: null }),
    ).toBeUndefined();
  });

  it('applies the guild, channel and role allowlists', () => {
    expect(refusal(parseConfig({ ...base, DISCORD_ALLOWED_GUILDS: '999999999999999999' }), place)).toMatch(
      /not enabled in this server/,
    );
    expect(refusal(parseConfig({ ...base, DISCORD_ALLOWED_CHANNELS: '888888888888888888' }), place)).toMatch(
      /try <#888888888888888888>/,
    );
    expect(refusal(parseConfig({ ...base, DISCORD_ALLOWED_ROLES: '777777777777777777' }), place)).toMatch(
      /roles allowed/,
    );
    expect(
      refusal(
        parseConfig({ ...base, DISCORD_ALLOWED_ROLES: '777777777777777777,333333333333333333' }),
        place,
      ),
    ).toBeUndefined();
  });

  it('names the permissions the bot lacks in the channel', () => {
    const readOnly = new PermissionsBitField(
      PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages,
    );
    expect(refusal(parseConfig(base), { ...place, appPermissions: readOnly })).toBe(
      "I can't post here: I need Embed Links, Attach Files in this channel. Ask a server admin to allow it.",
    );
  });
});
