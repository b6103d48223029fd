import type { App, SlashCommand, ViewOutput } from '@slack/bolt';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, type RunningBoltApp, startBoltHttpApp } from '../slack/bolt-harness.js';
import { type FakeSlack, startFakeSlack } from '../slack/index.js';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');

const modal = {
  type: 'modal' as const,
  callback_id: 'animate_modal',
  title: { type: 'plain_text' as const, text: 'Animate' },
  submit: { type: 'plain_text' as const, text: 'Go' },
  blocks: [
    {
      type: 'input' as const,
      block_id: 'image_block',
      label: { type: 'plain_text' as const, text: 'Image' },
      element: { type: 'file_input' as const, action_id: 'image', filetypes: ['png', 'jpg'], max_files: 1 },
    },
  ],
};

let fake: FakeSlack | undefined;
let running: RunningBoltApp | undefined;

afterEach(async () => {
  await running?.stop();
  await fake?.close();
  running = undefined;
  fake = undefined;
});

async function setup(register: (app: App) => void): Promise<{ fake: FakeSlack; running: RunningBoltApp }> {
  fake = await startFakeSlack();
  running = await startBoltHttpApp(fake, register);
  return { fake, running };
}

function errorCode(err: unknown): string | undefined {
  return (err as { data?: { error?: string } }).data?.error;
}

describe('Bolt HTTPReceiver against the fake Slack', () => {
  it('delivers a signed slash command; ack() answers the HTTP request; respond() reaches the response_url', async () => {
    const seen = deferred<SlashCommand>();
    const responded = deferred();
    const { fake: f, running: r } = await setup((app) => {
      app.command('/animate', async ({ command, ack, respond }) => {
        await ack({ response_type: 'ephemeral', text: 'Queued' });
        seen.resolve(command);
        await respond({ text: 'still working' });
        responded.resolve();
      });
    });
    const payload = f.slashCommand({ text: 'a cat surfing' });
    const res = await f.deliver(r.target, 'slash_commands', payload);
    expect(res).toMatchObject({
      acked: true,
      status: 200,
      body: { response_type: 'ephemeral', text: 'Queued' },
    });
    const command = await seen.promise;
    expect(command).toMatchObject({
      command: '/animate',
      text: 'a cat surfing',
      user_id: f.defaultUserId,
      channel_id: f.defaultChannelId,
      team_id: f.teamId,
      trigger_id: payload.trigger_id,
    });
    await responded.promise;
    expect(f.responseUrlPosts()).toMatchObject([
      { url: payload.response_url, status: 200, body: { text: 'still working' } },
    ]);
  });

  it('views.open accepts a fresh trigger_id once; reuse, expiry and unknown ids fail like Slack', async () => {
    const results: Array<{ ok: boolean; error?: string; viewId?: string }> = [];
    const handled = [deferred(), deferred()];
    const { fake: f, running: r } = await setup((app) => {
      app.command('/animate', async ({ command, ack, client }) => {
        await ack();
        try {
          const res = await client.views.open({ trigger_id: command.trigger_id, view: modal });
          results.push({ ok: true, viewId: res.view?.id });
        } catch (err) {
          results.push({ ok: false, error: errorCode(err) });
        }
        handled[results.length - 1]?.resolve();
      });
    });
    const first = f.slashCommand();
    await f.deliver(r.target, 'slash_commands', first);
    await handled[0]!.promise;
    // A second command whose trigger_id is older than 3 s by the fake's clock when the app uses it.
    const stale = f.slashCommand();
    f.advanceClock(3_001);
    await f.deliver(r.target, 'slash_commands', stale);
    await handled[1]!.promise;

    expect(results[0]).toMatchObject({ ok: true });
    expect(results[1]).toEqual({ ok: false, error: 'expired_trigger_id' });
    expect(f.views()).toHaveLength(1);
    expect(f.views()[0]).toMatchObject({
      method: 'views.open',
      trigger_id: first.trigger_id,
      view_id: results[0]!.viewId,
    });
    expect(f.views()[0]!.view).toMatchObject({ callback_id: 'animate_modal', type: 'modal' });

    const client = r.app.client;
    await expect(client.views.open({ trigger_id: first.trigger_id, view: modal })).rejects.toMatchObject({
      data: { ok: false, error: 'expired_trigger_id' },
    });
    await expect(client.views.open({ trigger_id: '123.456.deadbeef', view: modal })).rejects.toMatchObject({
      data: { error: 'invalid_trigger_id' },
    });
    // An input block without `submit` is rejected before the trigger is consumed.
    const fresh = f.triggerId();
    const { submit: _submit, ...noSubmit } = modal;
    await expect(client.views.open({ trigger_id: fresh, view: noSubmit })).rejects.toMatchObject({
      data: { error: 'invalid_arguments' },
    });
    await expect(client.views.open({ trigger_id: fresh, view: modal })).resolves.toMatchObject({ ok: true });
  });

  it('returns view_submission response_action errors in the HTTP response; a valid submission gets an empty 200', async () => {
    const submitted: ViewOutput[] = [];
    const { fake: f, running: r } = await setup((app) => {
      app.view('animate_modal', async ({ ack, view }) => {
        submitted.push(view);
        const files = view.state.values.image_block?.image?.files ?? [];
        const file = files[0];
        if (!file?.mimetype?.startsWith('image/')) {
          await ack({ response_action: 'errors', errors: { image_block: 'Please attach an image' } });
          return;
        }
        await ack();
      });
    });
    const textFile = f.fileInput([{ bytes: 'hello', name: 'notes.txt', mimetype: 'text/plain' }]);
    const bad = await f.deliver(
      r.target,
      'interactive',
      f.viewSubmission({ callback_id: 'animate_modal', values: { image_block: { image: textFile } } }),
    );
    expect(bad).toMatchObject({
      status: 200,
      body: { response_action: 'errors', errors: { image_block: 'Please attach an image' } },
    });

    const image = f.fileInput([{ bytes: PNG, name: 'cat.png', mimetype: 'image/png' }]);
    const good = await f.deliver(
      r.target,
      'interactive',
      f.viewSubmission({ callback_id: 'animate_modal', values: { image_block: { image } } }),
    );
    expect(good).toMatchObject({ status: 200, acked: true, body: undefined });
    const file = submitted[1]!.state.values.image_block!.image!.files![0]!;
    expect(file).toMatchObject({ name: 'cat.png', mimetype: 'image/png', filetype: 'png', size: PNG.length });
    // The file the modal carried is downloadable from the fake with the bot token.
    const dl = await fetch(file.url_private_download!, {
      headers: { Authorization: `Bearer ${f.botToken}` },
    });
    expect(dl.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await dl.arrayBuffer())).toEqual(PNG);
  });

  it('answers 401 to a forged signature, a wrong secret, a missing signature and a stale timestamp; no handler runs', async () => {
    let calls = 0;
    const { fake: f, running: r } = await setup((app) => {
      app.command('/animate', async ({ ack }) => {
        calls += 1;
        await ack();
      });
    });
    const forged = await f.deliver(r.target, 'slash_commands', f.slashCommand(), {
      signature: `v0=${'0'.repeat(64)}`,
    });
    const wrongSecret = await f.deliver(r.target, 'slash_commands', f.slashCommand(), {
      signWith: 'not-the-secret',
    });
    const unsigned = await f.deliver(r.target, 'slash_commands', f.slashCommand(), { unsigned: true });
    const stale = await f.deliver(r.target, 'slash_commands', f.slashCommand(), {
      timestamp: Math.floor(Date.now() / 1000) - 6 * 60,
    });
    for (const res of [forged, wrongSecret, unsigned, stale])
      expect(res).toMatchObject({ status: 401, acked: false });
    expect(calls).toBe(0);
    const ok = await f.deliver(r.target, 'slash_commands', f.slashCommand());
    expect(ok.status).toBe(200);
    expect(calls).toBe(1);
  });

  it('redelivers an Events API event with the same event_id and X-Slack-Retry-Num, visible as context.retryNum', async () => {
    const seen: Array<{
      eventId: string;
      retryNum: number | undefined;
      retryReason: string | undefined;
      files: number;
    }> = [];
    const twice = deferred();
    const { fake: f, running: r } = await setup((app) => {
      app.event('app_mention', async ({ event, body, context }) => {
        seen.push({
          eventId: body.event_id,
          retryNum: context.retryNum,
          retryReason: context.retryReason,
          files: event.files?.length ?? 0,
        });
        if (seen.length === 2) twice.resolve();
      });
    });
    const file = f.addFile(PNG, { name: 'dog.png' });
    const mention = f.appMention({ text: `<@${f.botUserId}> make it dance`, files: [file] });
    expect((await f.deliver(r.target, 'events_api', mention)).status).toBe(200);
    expect(
      (await f.deliver(r.target, 'events_api', mention, { retryNum: 1, retryReason: 'http_timeout' })).status,
    ).toBe(200);
    await twice.promise;
    expect(seen).toEqual([
      { eventId: mention.event_id, retryNum: undefined, retryReason: undefined, files: 1 },
      { eventId: mention.event_id, retryNum: 1, retryReason: 'http_timeout', files: 1 },
    ]);
  });

  it('routes a message shortcut and a message file_share event carrying files', async () => {
    type FileRef = { id?: string; url_private_download?: string };
    const got = deferred<{ shortcutFiles: FileRef[]; shareFiles: FileRef[] }>();
    let shortcutFiles: FileRef[] = [];
    const { fake: f, running: r } = await setup((app) => {
      app.shortcut('animate_message', async ({ shortcut, ack }) => {
        await ack();
        if (shortcut.type === 'message_action') shortcutFiles = (shortcut.message.files ?? []) as FileRef[];
      });
      app.message(async ({ message }) => {
        if (message.subtype === 'file_share') got.resolve({ shortcutFiles, shareFiles: message.files ?? [] });
      });
    });
    const file = f.addFile(PNG, { name: 'bird.png' });
    const posted = f.postUserMessage({ text: 'look', files: [file] });
    const sc = await f.deliver(
      r.target,
      'interactive',
      f.messageShortcut({ callback_id: 'animate_message', message_ts: posted.ts }),
    );
    expect(sc.status).toBe(200);
    await f.deliver(r.target, 'events_api', f.messageEvent({ text: 'another', files: [file] }));
    const { shortcutFiles: s, shareFiles } = await got.promise;
    expect(s.map((x) => x.id)).toEqual([file.id]);
    expect(shareFiles[0]).toMatchObject({ id: file.id, url_private_download: file.url_private_download });
  });
});
