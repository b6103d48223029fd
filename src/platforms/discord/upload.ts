import { openAsBlob } from 'node:fs';
import { extname } from 'node:path';
import {
  type APIMessage,
  type BaseMessageOptions,
  type Client,
  type InteractionWebhook,
  type MessageCreateOptions,
  MessagePayload,
  Routes,
  type SendableChannels,
} from 'discord.js';

/** A file on disk, as the deliverer attaches it: `{ attachment: path, name }`. */
interface FileOnDisk {
  attachment: string;
  name: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
};

const onDisk = (file: unknown): file is FileOnDisk =>
  typeof file === 'object' &&
  file !== null &&
  typeof (file as FileOnDisk).attachment === 'string' &&
  typeof (file as FileOnDisk).name === 'string';

/** The payload's files, when it has some and every one is a file on disk (then they can be streamed). */
export function filesOnDisk(options: Pick<BaseMessageOptions, 'files'>): FileOnDisk[] | undefined {
  const files = options.files ?? [];
  return files.length > 0 && files.every(onDisk) ? (files as FileOnDisk[]) : undefined;
}

/**
 * Messages with files on disk, sent as a multipart body (`payload_json` plus `files[n]`, platform
 * notes T1) that is read from the files while it goes out: discord.js would read each file whole
 * (DataResolver.resolveFile) and copy it into a Blob first (issue 10 item 5). The body is a
 * FormData of file-backed Blobs (`fs.openAsBlob`), which undici streams with its length declared;
 * it goes through the client's own REST queue (`passThroughBody`), so the base URL, the bot token,
 * the route's rate-limit headers, 429s (waited out and retried, with a fresh read of the file),
 * the timeout and DiscordAPIError are exactly those of every other request, and the sender sees
 * each response as it does for discord.js's own. The JSON part is discord.js's (MessagePayload).
 */
export class StreamedMessages {
  constructor(private readonly client: Client) {}

  /** POST /channels/{id}/messages, as `channel.send` would. */
  async create(channel: SendableChannels, options: MessageCreateOptions, files: FileOnDisk[]) {
    const body = await this.form(channel, options, files);
    return (await this.client.rest.post(Routes.channelMessages(channel.id), {
      body,
      passThroughBody: true,
    })) as APIMessage;
  }

  /** PATCH /channels/{id}/messages/{message}, as `channel.messages.edit` would. */
  async edit(channel: SendableChannels, messageId: string, options: BaseMessageOptions, files: FileOnDisk[]) {
    const body = await this.form(channel, options, files);
    return (await this.client.rest.patch(Routes.channelMessage(channel.id, messageId), {
      body,
      passThroughBody: true,
    })) as APIMessage;
  }

  /** PATCH /webhooks/{app}/{token}/messages/@original (no bot token), as `webhook.editMessage` would. */
  async editReply(webhook: InteractionWebhook, options: BaseMessageOptions, files: FileOnDisk[]) {
    const body = await this.form(webhook, options, files);
    return (await this.client.rest.patch(Routes.webhookMessage(webhook.id, webhook.token, '@original'), {
      body,
      passThroughBody: true,
      auth: false,
    })) as APIMessage;
  }

  private async form(
    target: SendableChannels | InteractionWebhook,
    options: BaseMessageOptions,
    files: FileOnDisk[],
  ): Promise<FormData> {
    // The JSON as discord.js makes it (attachments [{id: "0"}, …] name the parts); no file is read.
    const { body } = MessagePayload.create(target, { ...options, files }).resolveBody();
    const form = new FormData();
    form.append('payload_json', JSON.stringify(body));
    for (const [index, file] of files.entries()) {
      const type = CONTENT_TYPES[extname(file.attachment).toLowerCase()] ?? 'application/octet-stream';
      form.append(`files[${index}]`, await openAsBlob(file.attachment, { type }), file.name);
    }
    return form;
  }
}
