import { webApi } from '@slack/bolt';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../slack/index.js';

let fake: FakeSlack | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setup(options: Parameters<typeof startFakeSlack>[0] = {}) {
  fake = await startFakeSlack(options);
  const client = new webApi.WebClient(fake.botToken, {
    slackApiUrl: fake.apiUrl,
    retryConfig: { retries: 0 },
    logLevel: webApi.LogLevel.ERROR,
  });
  return { f: fake, client };
}

const modal = (title: string) => ({
  type: 'modal' as const,
  title: { type: 'plain_text' as const, text: title },
  blocks: [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: title } }],
});

describe('fake Slack rules beyond the Bolt round trips', () => {
  it('response_url: 5 uses, then used_url; expired after 30 minutes; in_channel responses become messages', async () => {
    const { f } = await setup();
    const cmd = f.slashCommand();
    const post = (url: string, body: object) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (let i = 0; i < 5; i += 1)
      expect((await post(cmd.response_url, { text: `update ${i}` })).status).toBe(200);
    const sixth = await post(cmd.response_url, { text: 'too many' });
    expect(sixth.status).toBe(404);
    expect(await sixth.json()).toEqual({ ok: false, error: 'used_url' });
    expect(f.ephemerals(f.defaultChannelId)).toHaveLength(5);

    const other = f.slashCommand();
    expect((await post(other.response_url, { response_type: 'in_channel', text: 'public' })).status).toBe(
      200,
    );
    expect(f.messages(f.defaultChannelId).map((m) => [m.text, m.source])).toEqual([
      ['public', 'response_url'],
    ]);
    f.advanceClock(30 * 60 * 1000 + 1);
    expect(await (await post(other.response_url, { text: 'late' })).json()).toEqual({
      ok: false,
      error: 'expired_url',
    });
    expect(f.responseUrlPosts().map((p) => p.error ?? p.status)).toEqual([
      200,
      200,
      200,
      200,
      200,
      'used_url',
      200,
      'expired_url',
    ]);
  });

  it('channel membership, DMs by user id, ephemerals, reactions, users.info and conversations.info', async () => {
    const { f, client } = await setup();
    f.addChannel({ id: 'C0PRIVATE1', name: 'secret', is_member: false });
    await expect(client.chat.postMessage({ channel: 'C0PRIVATE1', text: 'x' })).rejects.toMatchObject({
      data: { error: 'not_in_channel' },
    });
    const dm = await client.chat.postMessage({ channel: f.defaultUserId, text: 'your video' });
    expect(dm.channel).toMatch(/^D/);
    expect(f.messages(f.defaultUserId).map((m) => m.text)).toEqual(['your video']);

    await client.chat.postEphemeral({ channel: f.defaultChannelId, user: f.defaultUserId, text: 'only you' });
    expect(f.ephemerals(f.defaultChannelId)).toMatchObject([{ user: f.defaultUserId, text: 'only you' }]);

    const { ts } = await client.chat.postMessage({ channel: f.defaultChannelId, text: 'done' });
    await client.reactions.add({ channel: f.defaultChannelId, timestamp: ts!, name: 'white_check_mark' });
    await expect(
      client.reactions.add({ channel: f.defaultChannelId, timestamp: ts!, name: 'white_check_mark' }),
    ).rejects.toMatchObject({ data: { error: 'already_reacted' } });
    await client.reactions.remove({ channel: f.defaultChannelId, timestamp: ts!, name: 'white_check_mark' });
    await client.chat.delete({ channel: f.defaultChannelId, ts: ts! });
    expect(f.message(f.defaultChannelId, ts!)).toBeUndefined();

    await expect(client.users.info({ user: f.defaultUserId })).resolves.toMatchObject({
      user: { id: f.defaultUserId, is_bot: false },
    });
    await expect(client.users.info({ user: 'U0NOBODY' })).rejects.toMatchObject({
      data: { error: 'user_not_found' },
    });
    await expect(client.conversations.info({ channel: 'C0PRIVATE1' })).resolves.toMatchObject({
      channel: { id: 'C0PRIVATE1', is_member: false },
    });
  });

  it('strictChannels answers channel_not_found for unknown channels', async () => {
    const { client } = await setup({ strictChannels: true });
    await expect(client.chat.postMessage({ channel: 'C0UNKNOWN1', text: 'x' })).rejects.toMatchObject({
      data: { error: 'channel_not_found' },
    });
  });

  it('views.push and views.update (hash check); completeUploadExternal needs an uploaded file', async () => {
    const { f, client } = await setup();
    const opened = await client.views.open({ trigger_id: f.triggerId(), view: modal('One') });
    const pushed = await client.views.push({ trigger_id: f.triggerId(), view: modal('Two') });
    expect(pushed.view).toMatchObject({ previous_view_id: opened.view!.id, root_view_id: opened.view!.id });
    await expect(
      client.views.update({ view_id: opened.view!.id!, hash: 'stale', view: modal('Three') }),
    ).rejects.toMatchObject({ data: { error: 'hash_conflict' } });
    const updated = await client.views.update({
      view_id: opened.view!.id!,
      hash: opened.view!.hash!,
      view: modal('Three'),
    });
    expect(updated.view?.title?.text).toBe('Three');
    expect(f.views().map((v) => v.method)).toEqual(['views.open', 'views.push', 'views.update']);

    const { file_id } = await client.files.getUploadURLExternal({ filename: 'x.mp4', length: 3 });
    await expect(
      client.files.completeUploadExternal({ files: [{ id: file_id! }], channel_id: f.defaultChannelId }),
    ).rejects.toMatchObject({ data: { error: 'file_not_found' } });
  });

  it('views: file_input only in an input block, max_files from 1 to 10', async () => {
    const { client } = await setup();
    const withFile = (max: number) => ({
      type: 'modal' as const,
      title: { type: 'plain_text' as const, text: 'Files' },
      submit: { type: 'plain_text' as const, text: 'Go' },
      blocks: [
        {
          type: 'input' as const,
          block_id: 'image',
          label: { type: 'plain_text' as const, text: 'Image' },
          element: { type: 'file_input' as const, action_id: 'file', max_files: max },
        },
      ],
    });
    await expect(
      client.views.open({ trigger_id: fake!.triggerId(), view: withFile(1) }),
    ).resolves.toMatchObject({
      ok: true,
    });
    await expect(
      client.views.open({ trigger_id: fake!.triggerId(), view: withFile(11) }),
    ).rejects.toMatchObject({
      data: { error: 'invalid_arguments' },
    });
  });
});
