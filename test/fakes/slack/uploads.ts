import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { filetypeFor, type HostedFiles, mimeFor } from './hosted-files.js';
import { headerValue, parseMultipart, readBody, sendText } from './http-util.js';
import type { FakeChannel, FakeMessage, JsonObject, SlackFile, UploadRecord } from './types.js';
import { type ApiResult, clone, fail, invalidArgs, jsonArg, str } from './web-api-args.js';
import type { SlackWorkspace } from './workspace.js';

/**
 * The external upload flow: files.getUploadURLExternal hands out an upload URL, the client POSTs the
 * bytes there (raw or multipart), and files.completeUploadExternal shares the file, as a message
 * in a channel or thread when one is named.
 */

interface PendingUpload {
  fileId: string;
  filename: string;
  length: number;
  altText?: string;
  snippetType?: string;
  key: string;
  upload?: UploadRecord;
  completed: boolean;
}

export class ExternalUploads {
  private readonly pending = new Map<string, PendingUpload>();
  private readonly byKey = new Map<string, PendingUpload>();

  constructor(
    private readonly ws: SlackWorkspace,
    private readonly files: HostedFiles,
  ) {}

  /** Bytes of a file uploaded through files.getUploadURLExternal + upload POST, or added with addFile. */
  uploadedFile(fileId: string): Buffer | undefined {
    const pending = this.pending.get(fileId);
    if (pending?.upload) return Buffer.from(pending.upload.bytes);
    const stored = this.files.stored.get(fileId);
    return stored ? Buffer.from(stored.bytes) : undefined;
  }

  /** Details of the upload POST (encoding, part name, declared vs. received length). */
  uploadRecord(fileId: string): UploadRecord | undefined {
    const u = this.pending.get(fileId)?.upload;
    return u ? { ...u, bytes: Buffer.from(u.bytes) } : undefined;
  }

  getUploadUrlExternal(args: JsonObject): ApiResult {
    const filename = str(args.filename);
    if (!filename) return invalidArgs('missing required field: filename');
    const lengthRaw = str(args.length);
    const length = lengthRaw === undefined ? Number.NaN : Number(lengthRaw);
    if (lengthRaw === undefined) return invalidArgs('missing required field: length');
    if (!Number.isInteger(length) || length < 1) return invalidArgs('invalid value for length');
    const fileId = this.ws.nextId('F');
    const key = `${this.ws.teamId}/${fileId}/${randomBytes(12).toString('hex')}`;
    const pending: PendingUpload = { fileId, filename, length, key, completed: false };
    const alt = str(args.alt_text ?? args.alt_txt);
    if (alt) pending.altText = alt;
    const snippet = str(args.snippet_type);
    if (snippet) pending.snippetType = snippet;
    this.pending.set(fileId, pending);
    this.byKey.set(key, pending);
    return { ok: true, upload_url: `${this.ws.baseUrl}/upload/v1/${key}`, file_id: fileId };
  }

  /** The POST to an upload URL. */
  async receive(req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
    const pending = this.byKey.get(key);
    if (req.method !== 'POST' || !pending) return sendText(res, 404, 'not found');
    const body = await readBody(req);
    const contentType = headerValue(req.headers, 'content-type');
    let bytes = body;
    let encoding: UploadRecord['encoding'] = 'raw';
    let partName: string | undefined;
    if (contentType?.toLowerCase().startsWith('multipart/form-data')) {
      const parts = await parseMultipart(body, contentType);
      // @slack/web-api 8 posts `FormData` with the file Blob in a field named `body`; accept any file part.
      const filePart = parts.find((p) => typeof p.value !== 'string') ?? parts[0];
      if (!filePart) return sendText(res, 400, 'no file part');
      bytes = typeof filePart.value === 'string' ? Buffer.from(filePart.value) : filePart.value;
      encoding = 'multipart';
      partName = filePart.name;
    }
    const record: UploadRecord = {
      fileId: pending.fileId,
      filename: pending.filename,
      declaredLength: pending.length,
      encoding,
      contentType,
      bytes: Buffer.from(bytes),
      authorization: headerValue(req.headers, 'authorization'),
    };
    if (partName !== undefined) record.partName = partName;
    pending.upload = record;
    sendText(res, 200, `OK - ${bytes.length}`);
  }

  completeUploadExternal(args: JsonObject): ApiResult {
    const parsed = jsonArg(args.files);
    if (!parsed.ok || !Array.isArray(parsed.value) || parsed.value.length === 0) {
      return invalidArgs('missing required field: files');
    }
    const entries = parsed.value as Array<{ id?: unknown; title?: unknown }>;
    const uploads: Array<{ pending: PendingUpload; title: string }> = [];
    for (const e of entries) {
      const id = str(e?.id);
      const pending = id ? this.pending.get(id) : undefined;
      if (!pending?.upload || pending.completed) return fail('file_not_found');
      uploads.push({ pending, title: str(e.title) ?? pending.filename });
    }
    const channelArg = str(args.channel_id) ?? str(args.channels)?.split(',')[0];
    let channel: FakeChannel | undefined;
    if (channelArg) {
      const ch = this.ws.resolveChannel(channelArg);
      if ('error' in ch) return ch.error;
      if (!ch.channel.is_member) return fail('not_in_channel');
      channel = ch.channel;
    }
    const threadTs = str(args.thread_ts);
    if (threadTs && !channel) return invalidArgs('thread_ts requires channel_id');
    const initialComment = str(args.initial_comment);
    const blocks = jsonArg(args.blocks);
    if (!blocks.ok) return fail('invalid_blocks');

    const files: SlackFile[] = [];
    for (const { pending, title } of uploads) {
      const bytes = pending.upload!.bytes;
      const mimetype = mimeFor(pending.filename);
      const file = this.files.build(pending.fileId, {
        name: pending.filename,
        title,
        mimetype,
        filetype: filetypeFor(pending.filename, mimetype),
        size: bytes.length,
        user: this.ws.botUserId,
      });
      if (pending.altText) file.alt_txt = pending.altText;
      if (channel) file.channels = [channel.id];
      pending.completed = true;
      this.files.stored.set(pending.fileId, { file, bytes });
      files.push(file);
    }
    if (channel) this.share(channel, files, { initialComment, blocks: blocks.value, threadTs });
    return { ok: true, files: uploads.map(({ pending, title }) => ({ id: pending.fileId, title })) };
  }

  /** The message that shares completed files in a channel (or thread), and the files' `shares`. */
  private share(
    channel: FakeChannel,
    files: SlackFile[],
    p: { initialComment: string | undefined; blocks: unknown; threadTs: string | undefined },
  ): void {
    const msg: FakeMessage = {
      type: 'message',
      channel: channel.id,
      ts: this.ws.nextTs(),
      text: p.initialComment ?? '',
      ...this.ws.botMessageFields(),
      files: files.map(clone),
      upload: true,
      display_as_bot: false,
      source: 'files.completeUploadExternal',
    };
    // Slack ignores blocks when initial_comment is set.
    if (!p.initialComment && Array.isArray(p.blocks)) msg.blocks = p.blocks;
    if (p.threadTs) {
      msg.thread_ts = p.threadTs;
      this.ws.addReply(this.ws.findMessage(channel.id, p.threadTs), msg);
    }
    this.ws.messageStore.push(msg);
    for (const f of files) {
      const stored = this.files.stored.get(f.id)!;
      stored.file.shares = {
        [channel.is_private ? 'private' : 'public']: {
          [channel.id]: [{ ts: msg.ts, ...(p.threadTs ? { thread_ts: p.threadTs } : {}), reply_users: [] }],
        },
      };
    }
  }
}
