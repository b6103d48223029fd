/**
 * Fake Slack for tests. `startFakeSlack(options?)` starts a loopback server (127.0.0.1, port 0) that the
 * real @slack/bolt App and @slack/web-api WebClient run against, in HTTP-receiver mode or Socket Mode.
 *
 *   const fake = await startFakeSlack();
 *   const app = new App({ signingSecret, token: fake.botToken, botId: fake.botId, botUserId: fake.botUserId,
 *                         clientOptions: { slackApiUrl: fake.apiUrl } });          // HTTP mode
 *   const app = new App({ socketMode: true, appToken: fake.appToken, token: fake.botToken,
 *                         clientOptions: { slackApiUrl: fake.apiUrl } });          // Socket Mode
 *   (bolt-harness.ts: startBoltHttpApp / startBoltSocketApp do this and return a delivery target)
 *
 * Web API (`fake.apiUrl` = http://127.0.0.1:<port>/api/): auth.test, chat.postMessage/update/postEphemeral/
 * delete, views.open/push/update (single-use trigger_id, 3 s lifetime by the fake's clock), files.info,
 * files.getUploadURLExternal + upload POST (raw or multipart) + files.completeUploadExternal,
 * reactions.add/remove, conversations.info, users.info, apps.connections.open (xapp token only).
 * Errors are HTTP 200 `{ok:false,error}`; `fake.rateLimit(method, {times, retryAfterSeconds})` gives
 * 429 + Retry-After + `{ok:false,error:'ratelimited'}`; `fake.failNext(method, error, times)`.
 * Files: url_private(_download) return the bytes with the bot token, a 200 HTML sign-in page otherwise.
 *
 * Inbound: payload builders (`slashCommand`, `viewSubmission` + `fileInput`/`textInput`, `blockAction`,
 * `messageShortcut`, `appMention`, `messageEvent`, `reactionAdded`, `eventCallback`, `urlVerification`)
 * and `fake.deliver(target, 'slash_commands' | 'interactive' | 'events_api', payload, options?)` where
 * target is `{mode:'http', url, signingSecret}` (signed POST; options: retryNum/retryReason, timestamp,
 * signWith, signature, unsigned) or `{mode:'socket'}` (envelope on the newest connection, waits for the
 * ack). It resolves to `{acked, status, body, text}`: the HTTP response or the ack payload.
 *
 * Inspection: messages(channel), message(channel, ts), threadReplies, updates(channel, ts), ephemerals,
 * views(), view(id), uploadedFile(id), uploadRecord(id), file(id), calls(method?), responseUrlPosts(),
 * fileFetches(), socketConnections(), socketEnvelopes(). Control: advanceClock(ms), triggerId(),
 * responseUrl(), addFile, addUser, addChannel, postUserMessage, socketDisconnect(reason),
 * socketTerminate(), waitForSocketConnection(n), waitForSocketDisconnect(), close().
 *
 * Where each surface lives: fake-slack.ts (the front door: HTTP routing and the API above),
 * workspace.ts (shared state: identity, clock, ids, users, channels, messages, trigger_ids),
 * web-api.ts (token check, faults, call log, method table) with web-api-args.ts, rate-limits.ts
 * (429 and error faults), chat.ts, views.ts, hosted-files.ts (files.info, url_private), uploads.ts
 * (the external upload flow), reactions.ts, directory.ts (auth.test, users.info, conversations.info),
 * response-urls.ts, delivery.ts (signed HTTP and Socket Mode delivery), socket-mode.ts (the Socket
 * Mode server), interaction-payloads.ts and event-payloads.ts (what Slack sends), signing.ts,
 * http-util.ts, types.ts; bolt-harness.ts runs a bare Bolt app against the fake for its selftests.
 */
export { FakeSlack, startFakeSlack } from './fake-slack.js';
export { signedHeaders, slackSignature } from './signing.js';
export type * from './types.js';
