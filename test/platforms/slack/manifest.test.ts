import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { SLACK_IDS } from '../../../src/platforms/slack/context.js';

/** The manifest asks for exactly what the adapter uses; each scope has a reason here. */
const SCOPES: Record<string, string> = {
  commands: '/animate and the message shortcut',
  'chat:write': 'status messages (chat.postMessage / chat.update), ephemeral answers',
  'chat:write.public': '/animate in public channels the bot has not been invited to',
  'files:read': 'download the input image (url_private_download, files.info)',
  'files:write': 'upload the mp4 (files.getUploadURLExternal / completeUploadExternal)',
  'reactions:read': 'reaction_added: :game_die: / :repeat: rerun, :x: cancels',
  'app_mentions:read': 'app_mention with an attached image',
  'channels:history': 'message.channels: a mention with a file may come only as a message event',
  'groups:history': 'message.groups: the same in private channels',
  'im:history': 'message.im: images sent to the app in a direct message',
  'users:read': 'users.info: is_admin / is_owner may cancel anyone, display names',
};

/** Reads the `- item` list under a `key:` line (enough YAML for this file). */
function listUnder(yaml: string, key: string): string[] {
  const lines = yaml.split('\n');
  const start = lines.findIndex((line) => line.trim() === `${key}:`);
  if (start === -1) return [];
  const indent = lines[start]!.search(/\S/);
  const items: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') continue;
    if (line.search(/\S/) <= indent && !line.trim().startsWith('- ')) break;
    const item = /^\s*-\s+(\S+)\s*$/.exec(line);
    if (!item) break;
    items.push(item[1]!);
  }
  return items;
}

describe('slack-manifest.yml', async () => {
  const yaml = await readFile(new URL('../../../slack-manifest.yml', import.meta.url), 'utf8');

  it('asks for exactly the scopes the adapter needs', () => {
    expect(listUnder(yaml, 'bot').sort()).toEqual(Object.keys(SCOPES).sort());
  });

  it('subscribes to the events the listeners handle', () => {
    expect(listUnder(yaml, 'bot_events').sort()).toEqual(
      ['app_mention', 'message.channels', 'message.groups', 'message.im', 'reaction_added'].sort(),
    );
  });

  it('names the command and the shortcut the code routes on, and sends everything to /slack/events', () => {
    expect(yaml).toContain(`- command: ${SLACK_IDS.command}\n`);
    expect(yaml).toContain(`callback_id: ${SLACK_IDS.animateMessageShortcut}\n`);
    const urls = [...yaml.matchAll(/(?:url|request_url): (\S+)/g)].map((match) => match[1]!);
    expect(urls).toHaveLength(3);
    for (const url of urls) expect(url).toMatch(/^https:\/\/[^/]+\/slack\/events$/);
    expect(yaml).toMatch(/socket_mode_enabled: true/);
  });
});
