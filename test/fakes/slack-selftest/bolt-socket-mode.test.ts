import type { App, SlackEventMiddlewareArgs } from '@slack/bolt';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, type RunningBoltApp, startBoltSocketApp } from '../slack/bolt-harness.js';
import { type FakeSlack, startFakeSlack } from '../slack/index.js';

type ReactionAddedEvent = SlackEventMiddlewareArgs<'reaction_added'>['event'];

let fake: FakeSlack | undefined;
let running: RunningBoltApp | undefined;

afterEach(async () => {
  await running?.stop();
  await fake?.close();
  running = undefined;
  fake = undefined;
});

async function setup(
  register: (app: App) => void,
  receiverOptions?: { clientPingTimeout?: number },
): Promise<{ fake: FakeSlack; running: RunningBoltApp }> {
  fake = await startFakeSlack();
  // No botId/botUserId: Bolt calls auth.test against the fake to learn them.
  running = await startBoltSocketApp(fake, register, {}, receiverOptions);
  return { fake, running };
}

describe('Bolt Socket Mode against the fake Slack', () => {
  it('connects through apps.connections.open with the app token and acks a slash command envelope', async () => {
    const seen = deferred<string>();
    const { fake: f, running: r } = await setup((app) => {
      app.command('/animate', async ({ command, ack }) => {
        seen.resolve(command.text);
        await ack({ text: `Queued: ${command.text}` });
      });
    });
    expect(f.calls('apps.connections.open')).toMatchObject([{ auth: 'app', ok: true, status: 200 }]);
    expect(f.calls('auth.test')).toMatchObject([{ auth: 'bot', ok: true }]);
    expect(f.socketConnections()).toMatchObject([{ id: 'conn-1', open: true }]);

    const res = await f.deliver(r.target, 'slash_commands', f.slashCommand({ text: 'a fox' }));
    expect(await seen.promise).toBe('a fox');
    expect(res).toMatchObject({ mode: 'socket', acked: true, status: 200, body: { text: 'Queued: a fox' } });
    const [record] = f.socketEnvelopes();
    expect(record!.envelope).toMatchObject({ type: 'slash_commands', accepts_response_payload: true });
    expect(record!.ack).toEqual({ text: 'Queued: a fox' });
  });

  it('routes block_actions and an events_api reaction_added envelope to their listeners', async () => {
    const clicked = deferred<{
      actionId: string;
      value: string | undefined;
      messageTs: string | undefined;
    }>();
    const reacted = deferred<{
      event: ReactionAddedEvent;
      botUserId: string | undefined;
      retryNum: number | undefined;
    }>();
    const { fake: f, running: r } = await setup((app) => {
      app.action('rerun', async ({ action, ack, body }) => {
        await ack();
        clicked.resolve({
          actionId: 'action_id' in action ? action.action_id : '',
          value: action.type === 'button' ? action.value : undefined,
          messageTs: body.type === 'block_actions' ? body.message?.ts : undefined,
        });
      });
      app.event('reaction_added', async ({ event, context }) => {
        reacted.resolve({ event, botUserId: context.botUserId, retryNum: context.retryNum });
      });
    });
    const { ts } = await r.app.client.chat.postMessage({ channel: f.defaultChannelId, text: 'Done!' });

    const action = await f.deliver(
      r.target,
      'interactive',
      f.blockAction({ action_id: 'rerun', value: 'job-42', message_ts: ts! }),
    );
    expect(action).toMatchObject({ acked: true, body: undefined });
    expect(await clicked.promise).toEqual({ actionId: 'rerun', value: 'job-42', messageTs: ts });

    const reaction = f.reactionAdded({
      reaction: 'game_die',
      item: { channel: f.defaultChannelId, ts: ts! },
    });
    const ack = await f.deliver(r.target, 'events_api', reaction, { retryNum: 2, retryReason: 'timeout' });
    expect(ack.acked).toBe(true);
    const got = await reacted.promise;
    expect(got.event).toMatchObject({
      type: 'reaction_added',
      reaction: 'game_die',
      item_user: f.botUserId,
      item: { type: 'message', channel: f.defaultChannelId, ts },
    });
    expect(got.botUserId).toBe(f.botUserId); // learned via auth.test
    expect(got.retryNum).toBe(2);
    expect(f.message(f.defaultChannelId, ts!)?.reactions).toEqual([
      { name: 'game_die', users: [f.defaultUserId], count: 1 },
    ]);
  });

  it('returns view_submission response_action errors as the ack payload', async () => {
    const { fake: f, running: r } = await setup((app) => {
      app.view('animate_modal', async ({ ack }) => {
        await ack({ response_action: 'errors', errors: { prompt_block: 'Prompt is required' } });
      });
    });
    const res = await f.deliver(
      r.target,
      'interactive',
      f.viewSubmission({
        callback_id: 'animate_modal',
        values: { prompt_block: { prompt: f.textInput(null) } },
      }),
    );
    expect(res.body).toEqual({ response_action: 'errors', errors: { prompt_block: 'Prompt is required' } });
  });

  it('reconnects through a new apps.connections.open after a Slack `disconnect` message', async () => {
    const seen: string[] = [];
    const { fake: f, running: r } = await setup(
      (app) => {
        app.command('/animate', async ({ command, ack }) => {
          seen.push(command.text);
          await ack();
        });
      },
      { clientPingTimeout: 500 }, // also the client's reconnect delay
    );
    f.socketDisconnect('refresh_requested');
    const second = await f.waitForSocketConnection(2);
    expect(second).toBe('conn-2');
    expect(f.socketConnections().map((c) => [c.id, c.open, c.closeCode])).toEqual([
      ['conn-1', false, 1000],
      ['conn-2', true, undefined],
    ]);
    expect(f.calls('apps.connections.open')).toHaveLength(2);
    const res = await f.deliver(r.target, 'slash_commands', f.slashCommand({ text: 'after reconnect' }));
    expect(res.acked).toBe(true);
    expect(seen).toEqual(['after reconnect']);
  });
});
