import { randomBytes } from 'node:crypto';
import type { JsonObject, ViewRecord } from './types.js';
import { type ApiResult, clone, fail, invalidArgs, jsonArg, str } from './web-api-args.js';
import type { SlackWorkspace } from './workspace.js';

/** Modals: views.open / views.push (single-use trigger_id, a stack of 3) and views.update (hash checked). */
export class ViewsApi {
  private readonly log: ViewRecord[] = [];
  private readonly store = new Map<string, JsonObject>();

  constructor(private readonly ws: SlackWorkspace) {}

  /** views.open / views.push / views.update that succeeded, in order. */
  views(): ViewRecord[] {
    return this.log.map(clone);
  }

  /** Current state of a view by id. */
  view(viewId: string): JsonObject | undefined {
    const v = this.store.get(viewId);
    return v ? clone(v) : undefined;
  }

  private validate(raw: unknown): { view: JsonObject } | { error: ApiResult } {
    const parsed = jsonArg(raw);
    if (!parsed.ok) return { error: invalidArgs('failed to parse view JSON [json-pointer:/view]') };
    const view = parsed.value;
    if (view === undefined)
      return { error: invalidArgs('missing required field: view [json-pointer:/view]') };
    if (view === null || typeof view !== 'object' || Array.isArray(view)) {
      return { error: invalidArgs('must be an object [json-pointer:/view]') };
    }
    const v = view as JsonObject;
    if (v.type !== 'modal') return { error: invalidArgs('must be modal [json-pointer:/view/type]') };
    const title = v.title as { type?: unknown; text?: unknown } | undefined;
    if (title?.type !== 'plain_text' || typeof title.text !== 'string') {
      return { error: invalidArgs('missing required field: title [json-pointer:/view/title]') };
    }
    if (title.text.length > 24)
      return { error: invalidArgs('must be less than 25 characters [json-pointer:/view/title/text]') };
    if (!Array.isArray(v.blocks))
      return { error: invalidArgs('missing required field: blocks [json-pointer:/view/blocks]') };
    if (v.blocks.length > 100)
      return { error: invalidArgs('no more than 100 items allowed [json-pointer:/view/blocks]') };
    const hasInput = v.blocks.some((b) => (b as { type?: unknown } | null)?.type === 'input');
    if (hasInput && v.submit === undefined) {
      return {
        error: invalidArgs('must provide a submit property when using input blocks [json-pointer:/view]'),
      };
    }
    // file_input (platform notes): only in modals, inside an input block; max_files 1–10.
    for (const [index, raw] of (v.blocks as unknown[]).entries()) {
      const block = raw as { type?: unknown; element?: { type?: unknown; max_files?: unknown } } | null;
      const elements = (raw as { elements?: unknown[] } | null)?.elements ?? [];
      if (block?.type !== 'input' && elements.some((e) => (e as { type?: unknown })?.type === 'file_input')) {
        return {
          error: invalidArgs(
            `file_input is only allowed in input blocks [json-pointer:/view/blocks/${index}]`,
          ),
        };
      }
      if (block?.type === 'input' && block.element?.type === 'file_input') {
        const max = block.element.max_files;
        if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 10)) {
          return {
            error: invalidArgs(
              `must be between 1 and 10 [json-pointer:/view/blocks/${index}/element/max_files]`,
            ),
          };
        }
      }
    }
    if (typeof v.private_metadata === 'string' && v.private_metadata.length > 3000) {
      return {
        error: invalidArgs('must be less than 3001 characters [json-pointer:/view/private_metadata]'),
      };
    }
    if (typeof v.callback_id === 'string' && v.callback_id.length > 255) {
      return { error: invalidArgs('must be less than 256 characters [json-pointer:/view/callback_id]') };
    }
    return { view: v };
  }

  private useTrigger(raw: unknown): ApiResult | undefined {
    const triggerId = str(raw);
    if (!triggerId)
      return fail('invalid_arguments', {
        response_metadata: { messages: ['[ERROR] missing required field: trigger_id'] },
      });
    const t = this.ws.triggers.get(triggerId);
    if (!t) return fail('invalid_trigger_id');
    if (t.used || this.ws.now() - t.createdAt > this.ws.rules.triggerTtlMs) return fail('expired_trigger_id');
    t.used = true;
    return undefined;
  }

  /** A view as Slack stores and returns it, from what the app sent. */
  materialize(input: JsonObject, id: string, previousViewId: string | null, rootViewId: string): JsonObject {
    const { teamId, appId, botId } = this.ws;
    return {
      id,
      team_id: teamId,
      type: input.type,
      blocks: input.blocks,
      private_metadata: str(input.private_metadata) ?? '',
      callback_id: str(input.callback_id) ?? '',
      state: { values: {} },
      hash: `${Math.floor(this.ws.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      title: input.title,
      clear_on_close: input.clear_on_close === true,
      notify_on_close: input.notify_on_close === true,
      close: input.close ?? null,
      submit: input.submit ?? null,
      previous_view_id: previousViewId,
      root_view_id: rootViewId,
      app_id: appId,
      external_id: str(input.external_id) ?? '',
      app_installed_team_id: teamId,
      bot_id: botId,
    };
  }

  openOrPush(method: 'views.open' | 'views.push', args: JsonObject): ApiResult {
    const checked = this.validate(args.view);
    if ('error' in checked) return checked.error;
    const triggerError = this.useTrigger(args.trigger_id);
    if (triggerError) return triggerError;
    const id = this.ws.nextId('V');
    let previous: string | null = null;
    let root = id;
    if (method === 'views.push') {
      // Pushed onto the most recent open modal; Slack allows a stack of 3.
      const last = [...this.log].reverse().find((v) => v.method !== 'views.update');
      if (last) {
        const top = this.store.get(last.view_id);
        previous = last.view_id;
        root = str(top?.root_view_id) ?? last.view_id;
        const depth = this.log.filter(
          (v) => v.method === 'views.push' && str(this.store.get(v.view_id)?.root_view_id) === root,
        ).length;
        if (depth >= 2) return fail('push_limit_reached');
      }
    }
    const view = this.materialize(checked.view, id, previous, root);
    this.store.set(id, view);
    const record: ViewRecord = { method, view_id: id, view: clone(view), at: this.ws.now() };
    const trig = str(args.trigger_id);
    if (trig) record.trigger_id = trig;
    this.log.push(record);
    return { ok: true, view };
  }

  update(args: JsonObject): ApiResult {
    const viewId = str(args.view_id);
    const externalId = str(args.external_id);
    if (!viewId && !externalId) return invalidArgs('either view_id or external_id is required');
    const current = viewId
      ? this.store.get(viewId)
      : [...this.store.values()].find((v) => v.external_id === externalId);
    if (!current) return fail('not_found');
    const hash = str(args.hash);
    if (hash !== undefined && hash !== '' && hash !== current.hash) return fail('hash_conflict');
    const checked = this.validate(args.view);
    if ('error' in checked) return checked.error;
    const id = str(current.id)!;
    const view = this.materialize(
      checked.view,
      id,
      (current.previous_view_id as string | null) ?? null,
      str(current.root_view_id) ?? id,
    );
    this.store.set(id, view);
    this.log.push({ method: 'views.update', view_id: id, view: clone(view), at: this.ws.now() });
    return { ok: true, view };
  }
}
