import { createHook } from 'node:async_hooks';
import { expect, it, vi } from 'vitest';
import { startBoltHttpApp, startBoltSocketApp } from '../slack/bolt-harness.js';
import { startFakeSlack } from '../slack/index.js';

/**
 * TCP handles (servers and sockets) created from now on and not closed yet. Only handles born while
 * watching count: sockets something else left open in this worker can neither hide a leak nor fake one.
 */
function watchTcpHandles() {
  const open = new Map<number, string>();
  const hook = createHook({
    init(asyncId, type) {
      if (type === 'TCPWRAP' || type === 'TCPSERVERWRAP') open.set(asyncId, type);
    },
    destroy(asyncId) {
      open.delete(asyncId);
    },
  });
  hook.enable();
  return { open: () => [...open.values()].sort(), stop: () => hook.disable() };
}

it('a full HTTP + Socket Mode round trip leaves no sockets or servers open after stop()/close()', async () => {
  const handles = watchTcpHandles();
  try {
    const fake = await startFakeSlack();
    const http = await startBoltHttpApp(fake, (app) => {
      app.command('/animate', async ({ ack }) => {
        await ack();
      });
    });
    expect((await fake.deliver(http.target, 'slash_commands', fake.slashCommand())).status).toBe(200);
    expect(await fake.deliver(http.target, 'events_api', fake.urlVerification('abc'))).toMatchObject({
      body: { challenge: 'abc' },
    });
    await http.app.client.filesUploadV2({
      channel_id: fake.defaultChannelId,
      file: Buffer.from('abc'),
      filename: 'a.txt',
    });
    const file = fake.addFile(Buffer.from('x'), { name: 'x.png' });
    await (
      await fetch(file.url_private, { headers: { Authorization: `Bearer ${fake.botToken}` } })
    ).arrayBuffer();
    // The watch sees what the round trip opened: the fake's server, the receiver's, and client sockets.
    expect(handles.open().filter((type) => type === 'TCPSERVERWRAP')).toHaveLength(2);
    expect(handles.open()).toContain('TCPWRAP');
    await http.stop();

    const socket = await startBoltSocketApp(fake, (app) => {
      app.command('/animate', async ({ ack }) => {
        await ack();
      });
    });
    expect((await fake.deliver(socket.target, 'slash_commands', fake.slashCommand())).acked).toBe(true);
    await socket.stop();
    await fake.close();
    // Client-side keep-alive sockets see the server's FIN asynchronously; they must all go away.
    await vi.waitFor(() => expect(handles.open()).toEqual([]), { timeout: 5_000, interval: 20 });
  } finally {
    handles.stop();
  }
});
