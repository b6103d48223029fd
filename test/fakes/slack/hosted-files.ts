import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, sendText } from './http-util.js';
import type { AddFileOptions, JsonObject, SlackFile } from './types.js';
import { type ApiResult, clone, fail, str } from './web-api-args.js';
import type { SlackWorkspace } from './workspace.js';

/** Files the workspace holds (uploaded by users or by the app), files.info, and url_private downloads. */

export interface StoredFile {
  file: SlackFile;
  bytes: Buffer;
}

export interface FileFetch {
  fileId: string;
  authorized: boolean;
  status: number;
  at: number;
}

const MIME_BY_EXT: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  heic: 'image/heic',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  txt: 'text/plain',
  json: 'application/json',
  pdf: 'application/pdf',
};

const PRETTY_BY_FILETYPE: Record<string, string> = {
  png: 'PNG',
  jpg: 'JPEG',
  gif: 'GIF',
  webp: 'WebP',
  mp4: 'MPEG 4 Video',
  mov: 'QuickTime Movie',
  webm: 'WebM',
  text: 'Plain Text',
  binary: 'Binary',
};

/** The page slack.com serves for a file URL without a valid token (it is the workspace sign-in page). */
export const LOGIN_PAGE =
  '<!DOCTYPE html><html lang="en-US"><head><meta charset="utf-8"><title>Slack</title></head>' +
  '<body><div id="page"><h1>Sign in to your workspace</h1>' +
  '<form id="signin_form" action="/signin" method="post"><input type="email" name="email"></form></div></body></html>';

export function filetypeFor(name: string, mimetype: string): string {
  const ext = name.includes('.') ? name.split('.').pop()!.toLowerCase() : '';
  if (ext === 'jpeg') return 'jpg';
  if (ext && MIME_BY_EXT[ext]) return ext;
  if (mimetype.startsWith('text/')) return 'text';
  const fromMime = Object.entries(MIME_BY_EXT).find(([, m]) => m === mimetype)?.[0];
  return fromMime ?? (ext || 'binary');
}

export function mimeFor(name: string): string {
  const ext = name.includes('.') ? name.split('.').pop()!.toLowerCase() : '';
  return MIME_BY_EXT[ext] ?? 'application/octet-stream';
}

export class HostedFiles {
  readonly stored = new Map<string, StoredFile>();
  private readonly fetchLog: FileFetch[] = [];

  constructor(private readonly ws: SlackWorkspace) {}

  /** Register a file (as if a user uploaded it) and return the file object Slack would show. */
  add(bytes: Buffer | Uint8Array | string, options: AddFileOptions): SlackFile {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    const id = this.ws.nextId('F');
    const mimetype = options.mimetype ?? mimeFor(options.name);
    const file = this.build(id, {
      name: options.name,
      title: options.title ?? options.name,
      mimetype,
      filetype: options.filetype ?? filetypeFor(options.name, mimetype),
      size: buf.length,
      user: options.user ?? this.ws.defaultUserId,
    });
    this.stored.set(id, { file, bytes: buf });
    return clone(file);
  }

  build(
    id: string,
    f: { name: string; title: string; mimetype: string; filetype: string; size: number; user: string },
  ): SlackFile {
    const { baseUrl, teamId } = this.ws;
    const sec = Math.floor(this.ws.now() / 1000);
    const name = encodeURIComponent(f.name);
    return {
      id,
      created: sec,
      timestamp: sec,
      name: f.name,
      title: f.title,
      mimetype: f.mimetype,
      filetype: f.filetype,
      pretty_type: PRETTY_BY_FILETYPE[f.filetype] ?? f.filetype.toUpperCase(),
      user: f.user,
      user_team: teamId,
      editable: false,
      size: f.size,
      mode: 'hosted',
      is_external: false,
      external_type: '',
      is_public: true,
      public_url_shared: false,
      display_as_bot: false,
      username: '',
      url_private: `${baseUrl}/files-pri/${teamId}-${id}/${name}`,
      url_private_download: `${baseUrl}/files-pri/${teamId}-${id}/download/${name}`,
      permalink: `${baseUrl}/files/${f.user}/${id}/${name}`,
      permalink_public: `${baseUrl}/${teamId}-${id}-${randomBytes(5).toString('hex')}`,
      has_rich_preview: false,
      file_access: 'visible',
    };
  }

  /** The file object as files.info would return it. */
  file(fileId: string): SlackFile | undefined {
    const f = this.stored.get(fileId);
    return f ? clone(f.file) : undefined;
  }

  /** GETs of url_private / url_private_download and whether they carried the bot token. */
  fetches(): FileFetch[] {
    return this.fetchLog.map(clone);
  }

  filesInfo(args: JsonObject): ApiResult {
    const id = str(args.file);
    const f = id ? this.stored.get(id) : undefined;
    if (!f) return fail('file_not_found');
    return { ok: true, file: clone(f.file), comments: [], response_metadata: { next_cursor: '' } };
  }

  /** GET /files-pri/<team>-<file id>/[download/]<name>: the bytes with the bot token, the sign-in page without. */
  serve(req: IncomingMessage, res: ServerResponse, path: string): void {
    const seg = path.split('/')[2] ?? '';
    const fileId = seg.slice(seg.lastIndexOf('-') + 1);
    const stored = this.stored.get(fileId);
    const authorized = bearerToken(req.headers) === this.ws.botToken;
    if (!authorized) {
      this.fetchLog.push({ fileId, authorized, status: 200, at: this.ws.now() });
      sendText(res, 200, LOGIN_PAGE, 'text/html; charset=utf-8');
      return;
    }
    if (!stored) {
      this.fetchLog.push({ fileId, authorized, status: 404, at: this.ws.now() });
      sendText(res, 404, 'file not found');
      return;
    }
    this.fetchLog.push({ fileId, authorized, status: 200, at: this.ws.now() });
    const headers: Record<string, string> = {
      'content-type': stored.file.mimetype,
      'content-length': String(stored.bytes.length),
    };
    if (path.includes('/download/')) {
      headers['content-disposition'] = `attachment; filename="${stored.file.name.replace(/"/g, '')}"`;
    }
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : stored.bytes);
  }
}
