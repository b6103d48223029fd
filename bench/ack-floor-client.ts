/**
 * The floor of `bench/ack-burst.ts`'s ack figure: a gateway client that does nothing but defer every
 * interaction from its raw packet (no discord.js structures, no checks, no queue; a keep-alive
 * undici pool of its own), so what it measures is the fake Discord's own time to send the burst
 * and take the callbacks, plus the loopback. Started by the benchmark with the bot's env.
 */
// discord.js's own gateway and REST packages (installed with it), without discord.js's client.
import { REST } from '@discordjs/rest';
import { WebSocketManager, WebSocketShardEvents } from '@discordjs/ws';
import { type APIInteraction, GatewayDispatchEvents, InteractionResponseType } from 'discord.js';
import { Pool } from 'undici';

const api = process.env.DISCORD_API_URL!;
const token = process.env.DISCORD_TOKEN!;
const base = new URL(`${api}/v10`);
// Ten kept-alive connections: the fastest this fake takes 100 callbacks (measured against
// one connection per callback, as @discordjs/rest's pool does, and pipelining).
const pool = new Pool(base.origin, { connections: 10 });
const manager = new WebSocketManager({ token, intents: 0, rest: new REST({ api }).setToken(token) });

manager.on(WebSocketShardEvents.Dispatch, ({ data }) => {
  if (data.t !== GatewayDispatchEvents.InteractionCreate) return;
  const interaction = data.d as APIInteraction;
  pool
    .request({
      method: 'POST',
      path: `${base.pathname}/interactions/${interaction.id}/${interaction.token}/callback`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: InteractionResponseType.DeferredChannelMessageWithSource }),
    })
    .then((response) => response.body.dump())
    .catch((error: unknown) => console.error(error));
});
manager.on(WebSocketShardEvents.Ready, () => console.log('floor client ready'));
process.on('SIGTERM', () => {
  void Promise.resolve(manager.destroy()).finally(() => process.exit(0));
});
await manager.connect();
