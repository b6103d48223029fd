import type { HostedFiles } from './hosted-files.js';
import type { ResponseUrls } from './response-urls.js';
import type { AddFileOptions, JsonObject, SlackFile, SlashCommandPayload } from './types.js';
import type { ViewsApi } from './views.js';
import { clone, str } from './web-api-args.js';
import type { SlackWorkspace } from './workspace.js';

/**
 * What Slack sends an app when a person acts: a slash command, a modal submitted, a button clicked,
 * a message shortcut. Each comes with a fresh trigger_id and, where Slack gives one, a response_url.
 */
export class InteractionPayloads {
  constructor(
    private readonly ws: SlackWorkspace,
    private readonly files: HostedFiles,
    private readonly views: ViewsApi,
    private readonly responseUrls: ResponseUrls,
  ) {}

  /** Slash command body (all string fields, as Slack form-encodes them), with a fresh trigger_id and response_url. */
  slashCommand(
    p: {
      command?: string;
      text?: string;
      user_id?: string;
      channel_id?: string;
      team_id?: string;
      trigger_id?: string;
      response_url?: string;
    } = {},
  ): SlashCommandPayload {
    const { ws } = this;
    const channel = ws.channelRef(p.channel_id ?? ws.defaultChannelId);
    const user = ws.userRef(p.user_id ?? ws.defaultUserId);
    return {
      token: ws.verificationToken,
      team_id: p.team_id ?? ws.teamId,
      team_domain: ws.teamDomain,
      channel_id: channel.id,
      channel_name: channel.name,
      user_id: user.id,
      user_name: user.name,
      command: p.command ?? '/animate',
      text: p.text ?? '',
      api_app_id: ws.appId,
      is_enterprise_install: 'false',
      response_url:
        p.response_url ?? this.responseUrls.create('commands', { channel: channel.id, user: user.id }),
      trigger_id: p.trigger_id ?? ws.triggerId(),
    };
  }

  /** `{type:'file_input', files}` state value; entries given as bytes are registered with addFile first. */
  fileInput(
    files: Array<SlackFile | { bytes: Buffer | Uint8Array | string; name: string; mimetype?: string }>,
  ): {
    type: 'file_input';
    files: SlackFile[];
  } {
    return {
      type: 'file_input',
      files: files.map((f) =>
        Buffer.isBuffer(f.bytes) || f.bytes instanceof Uint8Array || typeof f.bytes === 'string'
          ? this.files.add(f.bytes, f as AddFileOptions)
          : clone(f as SlackFile),
      ),
    };
  }

  textInput(value: string | null): { type: 'plain_text_input'; value: string | null } {
    return { type: 'plain_text_input', value };
  }

  /**
   * view_submission payload. With `view_id` of a view the app opened, the submitted view is that view;
   * otherwise one is synthesised from `callback_id` / `private_metadata` / `blocks`.
   */
  viewSubmission(p: {
    view_id?: string;
    callback_id?: string;
    private_metadata?: string;
    blocks?: unknown[];
    values: Record<string, Record<string, unknown>>;
    user_id?: string;
    trigger_id?: string;
  }): JsonObject {
    const { ws } = this;
    const user = ws.userRef(p.user_id ?? ws.defaultUserId);
    let base = p.view_id ? this.views.view(p.view_id) : undefined;
    if (p.view_id && !base) throw new Error(`fake Slack: unknown view ${p.view_id}`);
    if (!base) {
      const id = ws.nextId('V');
      base = this.views.materialize(
        {
          type: 'modal',
          title: { type: 'plain_text', text: 'Animate' },
          submit: { type: 'plain_text', text: 'Submit' },
          blocks: p.blocks ?? [],
          callback_id: p.callback_id ?? 'animate_modal',
          private_metadata: p.private_metadata ?? '',
        },
        id,
        null,
        id,
      );
    }
    // Slack sends the state of every input the person left as it was opened (initial values) too.
    const values = { ...initialValues(base.blocks), ...clone(p.values) };
    const view: JsonObject = { ...clone(base), state: { values } };
    if (p.callback_id !== undefined) view.callback_id = p.callback_id;
    if (p.private_metadata !== undefined) view.private_metadata = p.private_metadata;
    return {
      type: 'view_submission',
      team: ws.teamRef(),
      user,
      api_app_id: ws.appId,
      token: ws.verificationToken,
      trigger_id: p.trigger_id ?? ws.triggerId(),
      view,
      response_urls: [],
      is_enterprise_install: false,
      enterprise: null,
    };
  }

  /** block_actions payload for a button (or other element) click on a message. */
  blockAction(p: {
    action_id: string;
    value?: string;
    block_id?: string;
    type?: string;
    text?: string;
    channel_id?: string;
    message_ts?: string;
    message?: JsonObject;
    user_id?: string;
    trigger_id?: string;
    /** A click on an ephemeral message (a response_url answer): `container.is_ephemeral` is true. */
    ephemeral?: boolean;
  }): JsonObject {
    const { ws } = this;
    const channel = ws.channelRef(p.channel_id ?? ws.defaultChannelId);
    const user = ws.userRef(p.user_id ?? ws.defaultUserId);
    const stored = p.message_ts ? ws.findMessage(channel.id, p.message_ts) : undefined;
    const message: JsonObject = p.message
      ? clone(p.message)
      : stored
        ? ws.publicMessage(stored)
        : { type: 'message', ts: p.message_ts ?? ws.nextTs(), text: '', ...ws.botMessageFields() };
    const messageTs = str(message.ts)!;
    const action: JsonObject = {
      action_id: p.action_id,
      block_id: p.block_id ?? `blk_${p.action_id}`,
      type: p.type ?? 'button',
      action_ts: `${(ws.now() / 1000).toFixed(6)}`,
    };
    if (action.type === 'button')
      action.text = { type: 'plain_text', text: p.text ?? p.action_id, emoji: true };
    if (p.value !== undefined) action.value = p.value;
    return {
      type: 'block_actions',
      user,
      api_app_id: ws.appId,
      token: ws.verificationToken,
      container: {
        type: 'message',
        message_ts: messageTs,
        channel_id: channel.id,
        is_ephemeral: p.ephemeral ?? false,
      },
      trigger_id: p.trigger_id ?? ws.triggerId(),
      team: ws.teamRef(),
      enterprise: null,
      is_enterprise_install: false,
      channel,
      message,
      state: { values: {} },
      response_url: this.responseUrls.create('actions', { channel: channel.id, user: user.id }),
      actions: [action],
    };
  }

  /** message_action (message shortcut) payload; `message` defaults to the stored message at `message_ts`. */
  messageShortcut(p: {
    callback_id: string;
    channel_id?: string;
    message_ts?: string;
    message?: JsonObject;
    user_id?: string;
    trigger_id?: string;
  }): JsonObject {
    const { ws } = this;
    const channel = ws.channelRef(p.channel_id ?? ws.defaultChannelId);
    const user = ws.userRef(p.user_id ?? ws.defaultUserId);
    const stored = p.message_ts ? ws.findMessage(channel.id, p.message_ts) : undefined;
    const message: JsonObject | undefined = p.message
      ? clone(p.message)
      : stored
        ? ws.publicMessage(stored)
        : undefined;
    if (!message)
      throw new Error('fake Slack: messageShortcut needs `message` or the ts of a stored message');
    return {
      type: 'message_action',
      token: ws.verificationToken,
      action_ts: `${(ws.now() / 1000).toFixed(6)}`,
      team: ws.teamRef(),
      user,
      channel,
      is_enterprise_install: false,
      enterprise: null,
      callback_id: p.callback_id,
      trigger_id: p.trigger_id ?? ws.triggerId(),
      response_url: this.responseUrls.create('actions', { channel: channel.id, user: user.id }),
      message_ts: str(message.ts)!,
      message,
    };
  }
}

/** The state Slack reports for input elements left as they were opened (with an initial value, or checkboxes). */
function initialValues(blocks: unknown): Record<string, Record<string, unknown>> {
  const values: Record<string, Record<string, unknown>> = {};
  for (const block of Array.isArray(blocks) ? (blocks as JsonObject[]) : []) {
    const element = block.element as JsonObject | undefined;
    if (block.type !== 'input' || !element || typeof block.block_id !== 'string') continue;
    const actionId = String(element.action_id);
    if (element.type === 'checkboxes') {
      // Checkboxes always report their selection, empty when none is ticked.
      values[block.block_id] = {
        [actionId]: { type: 'checkboxes', selected_options: clone(element.initial_options ?? []) },
      };
    } else if (element.initial_option !== undefined) {
      values[block.block_id] = {
        [actionId]: { type: element.type, selected_option: clone(element.initial_option) },
      };
    } else if (element.initial_value !== undefined) {
      values[block.block_id] = { [actionId]: { type: element.type, value: element.initial_value } };
    }
  }
  return values;
}
