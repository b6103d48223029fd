import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, type AppOptions, LogLevel, SocketModeReceiver } from '@slack/bolt';
import type { FakeSlack } from './fake-slack.js';
import type { DeliveryTarget } from './types.js';

/**
 * Helpers that start a real Bolt App against a FakeSlack, in either mode, and stop it cleanly.
 * `register` adds listeners before the app starts.
 */

export const TEST_SIGNING_SECRET = 'fake-signing-secret-0123456789abcdef';

export interface RunningBoltApp {
  app: App;
  target: DeliveryTarget;
  /** Stops the app and waits until its connections to the fake are gone. */
  stop(): Promise<void>;
}

/** Bolt with its default HTTPReceiver, listening on an ephemeral port; inbound target is `/slack/events`. */
export async function startBoltHttpApp(
  fake: FakeSlack,
  register: (app: App) => void = () => {},
  appOptions: Partial<AppOptions> = {},
): Promise<RunningBoltApp> {
  const signingSecret = appOptions.signingSecret ?? TEST_SIGNING_SECRET;
  const app = new App({
    signingSecret,
    token: fake.botToken,
    botId: fake.botId,
    botUserId: fake.botUserId,
    logLevel: LogLevel.ERROR,
    ...appOptions,
    clientOptions: { slackApiUrl: fake.apiUrl, ...appOptions.clientOptions },
  });
  register(app);
  const server: Server = await app.start(0);
  const { port } = server.address() as AddressInfo;
  return {
    app,
    target: { mode: 'http', url: `http://127.0.0.1:${port}/slack/events`, signingSecret },
    stop: async () => {
      await app.stop();
    },
  };
}

/**
 * Bolt in Socket Mode: `app.start()` calls apps.connections.open with the app token and resolves once
 * the fake's `hello` arrives. Pass `receiverOptions` to build the SocketModeReceiver explicitly (e.g. a
 * short `clientPingTimeout`, which is also the reconnect delay).
 */
export async function startBoltSocketApp(
  fake: FakeSlack,
  register: (app: App) => void = () => {},
  appOptions: Partial<AppOptions> = {},
  receiverOptions?: { clientPingTimeout?: number; serverPingTimeout?: number },
): Promise<RunningBoltApp> {
  const clientOptions = { slackApiUrl: fake.apiUrl, ...appOptions.clientOptions };
  const base: AppOptions = {
    token: fake.botToken,
    logLevel: LogLevel.ERROR,
    ...appOptions,
    clientOptions,
  };
  const app = receiverOptions
    ? new App({
        ...base,
        receiver: new SocketModeReceiver({
          appToken: fake.appToken,
          logLevel: LogLevel.ERROR,
          ...receiverOptions,
          // A custom receiver does not inherit App's clientOptions: apps.connections.open would go to slack.com.
          installerOptions: { clientOptions: { ...clientOptions } },
        }),
      })
    : new App({ ...base, socketMode: true, appToken: fake.appToken });
  register(app);
  await app.start();
  return {
    app,
    target: { mode: 'socket' },
    stop: async () => {
      await app.stop(); // resolves before the close handshake finishes
      await fake.waitForSocketDisconnect();
    },
  };
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
