import type { Requester } from '../core/job.js';
import type { BackendStatus } from '../queue/worker-health.js';
import type { Refusal } from './refusals.js';
import type { UserLoad } from './user-jobs.js';

/**
 * The preconditions of every paid request, declared once and evaluated by `evaluate` only. The
 * service runs them on submit and rerun; platforms never run their own. Stages run in order:
 *
 * - `access`: who and where (allowlists, the bot's permissions). Pure: config and the place only,
 *   so a platform may also ask them before it opens a form (GenerationService.refusal).
 * - `capacity`: what the person already has in flight (caps; quotas later). Read under the
 *   person's lock at enqueue, so a burst cannot slip past.
 * - `service`: whether anything can render it (backend health; a paused service later).
 */
export type Stage = 'access' | 'capacity' | 'service';
export const STAGES: readonly Stage[] = ['access', 'capacity', 'service'];

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

export interface Check {
  name: string;
  stage: Stage;
  run(origin: Origin): Verdict | Promise<Verdict>;
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
  /** Jobs the person has rendering and waiting. */
  load(requester: Requester): Promise<UserLoad>;
  limits: { maxRunningPerUser: number; maxWaitingPerUser: number };
  backendStatus(): Promise<BackendStatus>;
}

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
      // BullMQ cannot hold back one user's jobs (groups are Pro), so the caps are checked at
      // enqueue, on everything the person has in flight.
      name: 'per-person caps',
      stage: 'capacity',
      run: async ({ requester }) => {
        const { running, waiting } = await sources.load(requester);
        const { maxRunningPerUser: maxRunning, maxWaitingPerUser: maxWaiting } = sources.limits;
        return running + waiting >= maxRunning + maxWaiting
          ? refuse({ reason: 'over-cap', running, waiting, maxRunning, maxWaiting })
          : pass();
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
  ];
}

/** Runs the checks of the given stages in order; the first refusal wins, notices are collected. */
export async function evaluate(
  checks: readonly Check[],
  origin: Origin,
  stages: readonly Stage[],
): Promise<{ refusal?: Refusal; notices: string[] }> {
  const notices: string[] = [];
  for (const stage of stages) {
    for (const check of checks.filter((candidate) => candidate.stage === stage)) {
      const verdict = await check.run(origin);
      if (!verdict.ok) return { refusal: verdict.refusal, notices };
      if (verdict.notice) notices.push(verdict.notice);
    }
  }
  return { notices };
}
