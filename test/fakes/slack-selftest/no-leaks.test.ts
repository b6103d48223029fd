import { expect, it, vi } from 'vitest';
import { startBoltHttpApp, startBoltSocketApp } from '../slack/bolt-harness.js';
import { startFakeSlack } from '../slack/index.js';

const sockets = () => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;

it('a full HTTP + Socket Mode round trip leaves no sockets or servers open after stop()/close()', async () => {
  const before = sockets();
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
  await vi.waitFor(() => expect(sockets()).toBeLessThanOrEqual(before), { timeout: 5_000, interval: 20 });
});
