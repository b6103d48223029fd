import type { App, types, ViewOutput } from '@slack/bolt';
import { MODEL_PROFILES } from '../../../core/models.js';
import { FIELD_INFO, type FieldInfo, type ModelId, PROMPT_MAX_CHARS } from '../../../core/request.js';
import { truncate } from '../../../core/status-text.js';
import { SLACK_IDS, type SlackContext } from '../context.js';
import { fileProblem, originOf, type SlackFileRef, startJob } from '../intake.js';
import { refusalText } from '../refusals.js';
import { escapeMrkdwn } from '../render.js';
import { ADVANCED, readSettings } from '../settings.js';

/**
 * The animate modal, built from the request schema: a file input (images only), an optional second
 * one for the end frame, then every field FIELD_INFO marks `common` (prompt first), then `advanced`
 * key=value text for the rest. Opened by /animate and by the "Animate this image" shortcut (which
 * already has its start image, so it shows only the end-frame input).
 */

/** Where the modal came from; kept in the view's private_metadata (only the app can read it). */
export interface ModalOrigin {
  kind: 'command' | 'shortcut';
  channel: string;
  threadTs?: string;
  /** From the command or shortcut: answers the person privately for 30 minutes. */
  responseUrl?: string;
  /** The shortcut's image. */
  file?: { id: string; name?: string };
}

export const IMAGE_BLOCK = 'image';
export const FILE_ACTION = 'file';
/** The optional last frame: its own file input, so which image is which never depends on order. */
export const END_BLOCK = 'end_frame';
export const VALUE_ACTION = 'value';
/** Slack option values cannot be empty; the schema's "off" choice travels as this. */
const EMPTY_CHOICE = '__off__';

export const COMMON_FIELDS = FIELD_INFO.filter((field) => field.common);
export const OTHER_FIELDS = FIELD_INFO.filter((field) => !field.common);

export const plain = (text: string) => ({ type: 'plain_text' as const, text, emoji: true });

const humanise = (name: string) => {
  const words = name.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
};

function hintOf(field: FieldInfo): string {
  // A checkbox says what it does beside the box; the hint only gives its default.
  if (field.kind === 'boolean' && field.defaultValue === false) return 'Off unless ticked';
  const fallback =
    field.defaultValue !== null && field.defaultValue !== ''
      ? ` (default ${String(field.defaultValue)})`
      : '';
  return truncate(`${field.description}${fallback}`, 150);
}

function choiceLabel(field: FieldInfo, value: string | number): string {
  if (value === '') return 'off';
  if (field.name === 'model') {
    const profile = MODEL_PROFILES[value as ModelId];
    return truncate(profile ? `${profile.label} (${value})` : String(value), 75);
  }
  return truncate(String(value), 75);
}

function selectElement(
  field: FieldInfo,
  values: readonly (string | number)[],
  initial?: string,
): types.InputBlockElement {
  const yesNo = field.kind === 'boolean';
  const option = (value: string | number) => ({
    text: plain(yesNo ? (value === 'true' ? 'yes' : 'no') : choiceLabel(field, value)),
    value: value === '' ? EMPTY_CHOICE : String(value),
  });
  const chosen = initial === undefined ? undefined : values.find((value) => String(value) === initial);
  return {
    type: 'static_select',
    action_id: VALUE_ACTION,
    placeholder: plain(
      field.defaultValue === null || field.defaultValue === ''
        ? 'Default'
        : `Default: ${yesNo ? (field.defaultValue ? 'yes' : 'no') : choiceLabel(field, field.defaultValue as string)}`,
    ),
    options: values.map(option),
    ...(chosen !== undefined ? { initial_option: option(chosen) } : {}),
  };
}

function fieldElement(field: FieldInfo, initial?: string): types.InputBlockElement {
  switch (field.kind) {
    case 'integer':
    case 'number':
      return {
        type: 'number_input',
        action_id: VALUE_ACTION,
        is_decimal_allowed: field.kind === 'number',
        ...(initial !== undefined ? { initial_value: initial } : {}),
        ...(field.min !== undefined ? { min_value: String(field.min) } : {}),
        ...(field.max !== undefined ? { max_value: String(field.max) } : {}),
      };
    case 'boolean': {
      // A switch that is off by default is one checkbox: ticked means true, left empty false.
      if (field.defaultValue === false) {
        const option = { text: plain(field.description), value: 'true' };
        return {
          type: 'checkboxes',
          action_id: VALUE_ACTION,
          options: [option],
          ...(initial === 'true' ? { initial_options: [option] } : {}),
        };
      }
      return selectElement(field, ['true', 'false'], initial);
    }
    case 'choice':
      return selectElement(field, field.choices ?? [], initial);
    case 'url':
      return {
        type: 'url_text_input',
        action_id: VALUE_ACTION,
        ...(initial ? { initial_value: initial } : {}),
      };
    default: {
      const max = Math.min(field.maxLength ?? 3000, 3000);
      return {
        type: 'plain_text_input',
        action_id: VALUE_ACTION,
        multiline: max > 300,
        max_length: max,
        ...(initial ? { initial_value: truncate(initial, max) } : {}),
      };
    }
  }
}

export function fieldBlock(field: FieldInfo, initial?: string): types.InputBlock {
  const isPrompt = field.name === 'prompt';
  return {
    type: 'input',
    block_id: field.name,
    label: plain(isPrompt ? 'Prompt: what should happen?' : humanise(field.name)),
    hint: plain(isPrompt ? `Up to ${PROMPT_MAX_CHARS} characters` : hintOf(field)),
    optional: !isPrompt,
    element: fieldElement(field, initial),
  };
}

export function animateModal(origin: ModalOrigin, prefill: { prompt?: string; advanced?: string } = {}) {
  const blocks: types.KnownBlock[] = [];
  if (origin.kind === 'command') {
    blocks.push({
      type: 'input',
      block_id: IMAGE_BLOCK,
      label: plain('Image'),
      hint: plain('The still image to animate: PNG, JPEG or WebP, up to 10 MB'),
      element: {
        type: 'file_input',
        action_id: FILE_ACTION,
        filetypes: ['png', 'jpg', 'jpeg', 'webp', 'gif'],
        max_files: 1,
      },
    });
  } else {
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: `Animating *${escapeMrkdwn(origin.file?.name ?? 'the image')}* from that message.`,
        },
      ],
    });
  }
  blocks.push({
    type: 'input',
    block_id: END_BLOCK,
    label: plain('End frame (optional)'),
    hint: plain('The image the video should end on (first-and-last-frame): PNG, JPEG or WebP, up to 10 MB'),
    optional: true,
    element: {
      type: 'file_input',
      action_id: FILE_ACTION,
      filetypes: ['png', 'jpg', 'jpeg', 'webp', 'gif'],
      max_files: 1,
    },
  });
  for (const field of COMMON_FIELDS) {
    blocks.push(fieldBlock(field, field.name === 'prompt' ? prefill.prompt : undefined));
  }
  blocks.push({
    type: 'input',
    block_id: ADVANCED,
    label: plain('Advanced settings'),
    hint: plain(
      truncate(
        `key=value pairs, e.g. shift=3 tea_cache=0 (ranges and defaults: /animate help). Also: ${OTHER_FIELDS.map((f) => f.name).join(', ')}`,
        2000,
      ),
    ),
    optional: true,
    element: {
      type: 'plain_text_input',
      action_id: VALUE_ACTION,
      max_length: 1000,
      placeholder: plain('shift=3 tea_cache=0'),
      ...(prefill.advanced ? { initial_value: truncate(prefill.advanced, 1000) } : {}),
    },
  });
  return {
    type: 'modal' as const,
    callback_id: SLACK_IDS.animateView,
    title: plain(origin.kind === 'command' ? 'Animate an image' : 'Animate this image'),
    submit: plain('Animate'),
    close: plain('Cancel'),
    private_metadata: JSON.stringify(origin),
    blocks,
  };
}

export function parseOrigin(metadata: string): ModalOrigin | undefined {
  try {
    const origin = JSON.parse(metadata) as ModalOrigin;
    return typeof origin.channel === 'string' && (origin.kind === 'command' || origin.kind === 'shortcut')
      ? origin
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the submitted state: the typed fields, the `advanced` text and the file. An unticked box
 * says nothing (`advanced` may still set it), unless `untickedIsFalse`: a Remix form, whose boxes
 * open as the parent had them, so unticking one turns it off.
 */
export function readModal(view: ViewOutput, how: { untickedIsFalse?: boolean } = {}) {
  const values = view.state.values;
  const fields: Record<string, unknown> = {};
  for (const field of COMMON_FIELDS) {
    const state = values[field.name]?.[VALUE_ACTION];
    if (!state) continue;
    if (state.type === 'checkboxes') {
      const ticked = (state.selected_options ?? []).some((option) => option.value === 'true');
      if (ticked || how.untickedIsFalse) fields[field.name] = ticked;
      continue;
    }
    const selected = state.selected_option?.value;
    fields[field.name] = selected !== undefined ? (selected === EMPTY_CHOICE ? '' : selected) : state.value;
  }
  const advanced = values[ADVANCED]?.[VALUE_ACTION]?.value ?? undefined;
  const file = values[IMAGE_BLOCK]?.[FILE_ACTION]?.files?.[0] as SlackFileRef | undefined;
  const endFile = values[END_BLOCK]?.[FILE_ACTION]?.files?.[0] as SlackFileRef | undefined;
  return { settings: readSettings(fields, advanced), file, ...(endFile ? { endFile } : {}) };
}

const BLOCK_IDS = new Set([...COMMON_FIELDS.map((field) => field.name), ADVANCED, IMAGE_BLOCK, END_BLOCK]);

/** Inline errors keyed by block id (`response_action: errors`). */
export function errorsByBlock(bySource: Map<string, string[]>): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [source, messages] of bySource) {
    const block = BLOCK_IDS.has(source) ? source : ADVANCED;
    errors[block] = truncate([errors[block], ...messages].filter(Boolean).join(' · '), 300);
  }
  return errors;
}

/** Validates inline (fast checks only: 3 s to answer), acknowledges, then downloads and enqueues. */
export function register(app: App, context: SlackContext): void {
  app.view(SLACK_IDS.animateView, async ({ ack, body, view }) => {
    const origin = parseOrigin(view.private_metadata);
    const firstBlock = origin?.kind === 'command' ? IMAGE_BLOCK : 'prompt';
    if (!origin) {
      await ack({
        response_action: 'errors',
        errors: { prompt: 'This form is out of date; close it and run /animate again.' },
      });
      return;
    }
    const read = readModal(view);
    const errors = read.settings.ok ? {} : errorsByBlock(read.settings.bySource);
    const file = origin.kind === 'command' ? read.file : origin.file;
    if (origin.kind === 'command') {
      const problem = fileProblem(context, read.file);
      if (problem) errors[IMAGE_BLOCK] = problem;
    } else if (!file) {
      errors[firstBlock] = 'The image of that message is gone; run the shortcut again.';
    }
    const endProblem = read.endFile ? fileProblem(context, read.endFile) : undefined;
    if (endProblem) errors[END_BLOCK] = endProblem;
    else if (read.endFile && read.settings.ok && read.settings.value.loop) {
      errors[END_BLOCK] = truncate(refusalText({ reason: 'loop-with-end-frame' }), 300);
    }
    const user = { id: body.user.id, displayName: body.user.name };
    // The form stays open with the refusal in it: access always, the person's caps once all else is right.
    const refused = await context.service.refusal(
      originOf(context, user.id, origin.channel, user.displayName),
      Object.keys(errors).length === 0 ? 'capacity' : 'access',
    );
    if (refused) errors[firstBlock] = truncate(refusalText(refused), 300);
    if (Object.keys(errors).length > 0 || !read.settings.ok || !file) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    await context.acks.ack(() => ack());
    // Every request of a burst is acknowledged before this one downloads and queues.
    await context.acks.settled();
    // One job per view, even if the same submission arrives twice at once.
    if (!(await context.messages.claim('message', `view-${view.id}`))) return;
    await startJob(context, {
      jobId: `sl-${view.id}`,
      settings: read.settings.value,
      file,
      ...(read.endFile ? { endFile: read.endFile } : {}),
      user,
      place: { channel: origin.channel, ...(origin.threadTs ? { threadTs: origin.threadTs } : {}) },
      reply: {
        userId: user.id,
        channel: origin.channel,
        ...(origin.threadTs ? { threadTs: origin.threadTs } : {}),
        ...(origin.responseUrl ? { responseUrl: origin.responseUrl } : {}),
      },
    });
  });
}
