import type { Requester } from '../core/job.js';
import { MODEL_IDS, type ModelId } from '../core/request.js';
import { modelRefusal, type UnavailableModel } from '../queue/model-availability.js';
import type { BackendStatus } from '../queue/worker-health.js';
import type { TextToCheck, TextVerdict } from './moderation/text-moderator.js';
import type { QuotaVerdict } from './quotas.js';
import type { Refusal } from './refusals.js';
import type { ServerSettingValues } from './server-settings.js';
import type { UserLoad } from './user-jobs.js';

/**
 * The preconditions of every paid request, declared once and evaluated by `evaluate` only. The
 * service runs them on submit and rerun; platforms never run their own. Stages run in order:
 *
 * - `access`: who and where (allowlists, the server's allowed channels, the bot's permissions).
 *   Config, the place and the server's settings only, so a platform may also ask them before it
 *   opens a form (GenerationService.refusal).
 * - `content`: what is asked for (the prompt against the blocked terms). Cheap, before anything is
 *   read or stored. (The images are checked by the service once downloaded.)
 * - `capacity`: what the person already has in flight and has used (caps, quotas). Read under the
 *   person's lock at enqueue, so a burst cannot slip past; the quota is reserved atomically then.
 * - `service`: whether anything can render it (a paused server or bot, backend health, the model).
 */
export type Stage = 'access' | 'content' | 'capacity' | 'service';
export const STAGES: readonly Stage[] = ['access', 'content', 'capacity', 'service'];

/** Where a request comes from, as every platform can say it. */
export interface Place {
  /** Channel (Discord) or conversation (Slack). */
  channelId: string;
  /** The Discord server; null in a direct message; Slack leaves it out (the workspace is the install). */
  serverId?: string | null;
  isDirectMessage: boolean;
  /** The member's roles (Discord); empty in DMs. */
  roleIds?: readonly string[];
  /** Permissions the bot lacks there that it needs to post, by name (Discord's app permissions). */
  botLacks?: readonly string[];
  /** The server's name, for telling people where their jobs are (Discord guild name). */
  serverName?: string;
  /** Discord's age-restricted ("NSFW") channel flag; false on Slack and in DMs. */
  ageRestricted?: boolean;
}

/** Where a platform works (its allowlists, from the config); empty lists allow everything. */
export interface AccessRules {
  /** Discord: allowed or refused; Slack: held to the channel allowlist like any conversation. */
  directMessages: 'allow' | 'refuse' | 'like-channels';
  servers: readonly string[];
  channels: readonly string[];
  roles: readonly string[];
}

/** Who asks, from where, under which rules: all a check looks at. */
export interface Origin {
  requester: Requester;
  place: Place;
  access: AccessRules;
}

export type Verdict = { ok: true; notice?: string } | { ok: false; refusal: Refusal };
export const pass = (notice?: string): Verdict => (notice ? { ok: true, notice } : { ok: true });
export const refuse = (refusal: Refusal): Verdict => ({ ok: false, refusal });

/** What is asked for, as far as the checks need it; `model` and `text` are absent before a request exists. */
export interface Ask {
  /** The settings of the server the request comes from (environment, overridden per server). */
  settings: ServerSettingValues;
  model?: ModelId;
  text?: TextToCheck;
  /** The request's LoRA URL, if any (capability-checks.ts). */
  lora?: string;
  /** Whether the request has an end frame. */
  endFrame?: boolean;
  /** Whether it asks to loop (its end frame is the start image). */
  loop?: boolean;
  /** Videos asked for at once (`variants`); one when absent. */
  count?: number;
}

export interface Check {
  name: string;
  stage: Stage;
  run(origin: Origin, ask?: Ask): Verdict | Promise<Verdict>;
}

/** Who and where, in the order people are told: the allowlists, then what the bot may do there. */
export function accessRefusal(rules: AccessRules, place: Place): Refusal | undefined {
  if (place.isDirectMessage && rules.directMessages !== 'like-channels') {
    return rules.directMessages === 'allow' ? undefined : { reason: 'dms-off' };
  }
  if (rules.servers.length > 0 && !(place.serverId && rules.servers.includes(place.serverId))) {
    return { reason: 'server-not-allowed' };
  }
  if (rules.channels.length > 0 && !rules.channels.includes(place.channelId)) {
    return { reason: 'channel-not-allowed', allowed: rules.channels };
  }
  if (rules.roles.length > 0 && !(place.roleIds ?? []).some((role) => rules.roles.includes(role))) {
    return { reason: 'role-not-allowed' };
  }
  if (place.botLacks && place.botLacks.length > 0) {
    return { reason: 'bot-cannot-post', missing: place.botLacks };
  }
  return undefined;
}

export interface CheckSources {
  /** Jobs the person has rendering and waiting, on every server. */
  load(requester: Requester): Promise<UserLoad>;
  /** The built-in list, the operator's terms and the server's. */
  moderateText(text: TextToCheck, serverTerms: readonly string[]): TextVerdict;
  /** Whether one more video fits the person's, the server's and the bot's daily quotas. */
  quota(requester: Requester, settings: ServerSettingValues): Promise<QuotaVerdict>;
  /** Whether the requester's server, or the whole bot, is paused. */
  paused(requester: Requester): Promise<'server' | 'bot' | undefined>;
  backendStatus(): Promise<BackendStatus>;
  /** Models workers found gone (model-availability.ts). */
  unavailableModels(): Promise<ReadonlyMap<ModelId, UnavailableModel>>;
}

/** The refusal of a quota that has no room (freesAt in epoch seconds). */
export function quotaRefusal(verdict: QuotaVerdict & { ok: false }, asked = 1): Refusal {
  const { scope, limit, used, reserved } = verdict;
  const freesAt = Math.ceil(verdict.freesAt / 1000);
  return { reason: 'over-quota', scope, limit, used, reserved, freesAt, ...(asked > 1 ? { asked } : {}) };
}

export const RELAX_NOTICE =
  'You are over the daily quota, so this video is queued in relax mode: it starts when nobody within quota is waiting.';

/** Every rule a request must pass; a new rule is one more entry here. */
export function standardChecks(sources: CheckSources): Check[] {
  return [
    {
      name: 'allowlists and permissions',
      stage: 'access',
      run: ({ access, place }) => {
        const refusal = accessRefusal(access, place);
        return refusal ? refuse(refusal) : pass();
      },
    },
    {
      name: "the server's allowed channels",
      stage: 'access',
      run: ({ place }, ask) => {
        const allowed = ask?.settings.allowed_channels ?? [];
        return allowed.length > 0 && !allowed.includes(place.channelId)
          ? refuse({ reason: 'channel-not-allowed', allowed })
          : pass();
      },
    },
    {
      // Before anything is read, stored or queued; the verdict never carries the term.
      name: 'prompt moderation',
      stage: 'content',
      run: (_origin, ask) => {
        if (!ask?.text || !ask.settings.moderation_text) return pass();
        const verdict = sources.moderateText(ask.text, ask.settings.blocked_terms);
        return verdict.status === 'flagged'
          ? refuse({ reason: 'prompt-blocked', field: verdict.field, category: verdict.category })
          : pass();
      },
    },
    {
      // MAX_ACTIVE_PER_USER rendering at once (enforced where jobs start: the worker policy) and
      // MAX_QUEUED_PER_USER more waiting behind them, counted across every server of the person.
      name: 'per-person caps',
      stage: 'capacity',
      run: async ({ requester }, ask) => {
        if (!ask) return pass();
        const { rendering, waiting } = await sources.load(requester);
        const { max_active_per_user: maxRunning, max_queued_per_user: maxWaiting } = ask.settings;
        const count = ask.count ?? 1;
        return rendering.length + waiting.length + count > maxRunning + maxWaiting
          ? refuse({
              reason: 'over-cap',
              rendering,
              waiting,
              maxRunning,
              maxWaiting,
              ...(count > 1 ? { asked: count } : {}),
            })
          : pass();
      },
    },
    {
      // A look only: the service reserves atomically at enqueue, which settles a race for the last video.
      name: 'daily quotas',
      stage: 'capacity',
      run: async ({ requester }, ask) => {
        if (!ask) return pass();
        const verdict = await sources.quota(requester, ask.settings);
        if (verdict.ok) return pass();
        if (ask.settings.quota_overflow === 'relax') return pass(RELAX_NOTICE);
        return refuse(quotaRefusal(verdict));
      },
    },
    {
      name: 'not paused',
      stage: 'service',
      run: async ({ requester }) => {
        const paused = await sources.paused(requester);
        return paused ? refuse({ reason: 'paused', scope: paused }) : pass();
      },
    },
    {
      // Refused when every worker says its backend is down (a job would only wait); a notice when
      // no worker is online at all (it may just be restarting, so the job is queued).
      name: 'backend up',
      stage: 'service',
      run: async () => {
        const status = await sources.backendStatus();
        if (status.online > 0 && status.healthy === 0) {
          return refuse({ reason: 'backend-down', problems: status.problems });
        }
        return status.online === 0
          ? pass('No render worker is online right now; your video will start as soon as one is back.')
          : pass();
      },
    },
    {
      // A retired app answers 404 to every run: refuse at once instead of queueing a job that fails.
      name: 'model available',
      stage: 'service',
      run: async (_origin, ask) => {
        if (!ask?.model) return pass();
        const text = modelRefusal(ask.model, await sources.unavailableModels(), MODEL_IDS);
        return text ? refuse({ reason: 'model-unavailable', text }) : pass();
      },
    },
  ];
}

/** Runs the checks of the given stages in order; the first refusal wins, notices are collected. */
export async function evaluate(
  checks: readonly Check[],
  origin: Origin,
  stages: readonly Stage[],
  ask?: Ask,
): Promise<{ refusal?: Refusal; notices: string[] }> {
  const notices: string[] = [];
  for (const stage of stages) {
    for (const check of checks.filter((candidate) => candidate.stage === stage)) {
      const verdict = await check.run(origin, ask);
      if (!verdict.ok) return { refusal: verdict.refusal, notices };
      if (verdict.notice) notices.push(verdict.notice);
    }
  }
  return { notices };
}
