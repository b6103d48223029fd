import { MODEL_PROFILES, type ModelProfile } from '../../core/models.js';
import {
  FIELD_INFO,
  type GenerationRequest,
  MODEL_IDS,
  type ModelId,
  type SettingName,
} from '../../core/request.js';
import type { Logger } from '../../log.js';
import type { AppAvailability } from './app-availability.js';
import { appMapping, appName, appPath, appRefFor, INFERENCE_APPS, modelForApp } from './apps.js';
import { InferenceApiError } from './envelope.js';
import type { ErrorTranslator } from './errors.js';
import type { CallMode, InferenceHttp } from './http.js';

/**
 * The app's published input schema against Kinema's mapping (shared/specs/wan-apps.md, rule 3):
 * required fields the adapter cannot fill, fields it sends that the app lacks, and choice values it
 * may send that the app does not list. Run by a worker at start-up; a mismatch is logged.
 */

export interface AppCheckContext {
  http: Pick<InferenceHttp, 'json'>;
  errors: ErrorTranslator;
  /** Told whether the app is there, so a gone model is refused before it is queued. */
  availability?: AppAvailability;
  /** INFERENCE_APP, possibly pinned as `@version`. */
  configuredApp: string;
  log: Logger;
  /** `once` where a caller must not wait out retries (the health check); default `idempotent`. */
  mode?: Extract<CallMode, 'once' | 'idempotent'>;
}

/** Fetches the app of a model (default: the configured app's) and returns one message per mismatch. */
export async function checkApp(
  context: AppCheckContext,
  model: ModelId | undefined = modelForApp(context.configuredApp)?.id,
): Promise<string[]> {
  const profile = model ? MODEL_PROFILES[model] : undefined;
  if (!profile) {
    return [
      `INFERENCE_APP ${context.configuredApp} matches none of Kinema's models (${MODEL_IDS.join(', ')}), so no adapter can drive it`,
    ];
  }
  const app = appRefFor(profile, context.configuredApp);
  try {
    const found = await context.http.json<unknown>('GET', appPath(app), {
      mode: context.mode ?? 'idempotent',
      log: context.log,
    });
    await context.availability?.present(profile.id);
    return compareAppSchema(profile, found, app);
  } catch (error) {
    if (error instanceof InferenceApiError && error.status === 404) {
      // The record is fetched without the pinned version: a 404 means the app itself is gone.
      await context.availability?.gone(profile.id, appName(app));
      return [context.errors.unavailable(app, profile).message];
    }
    throw context.errors.translate(error);
  }
}

type JsonSchema = {
  type?: unknown;
  required?: unknown;
  properties?: Record<string, JsonSchema>;
  enum?: unknown[];
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
};

function schemaOf(app: unknown): JsonSchema | undefined {
  if (!app || typeof app !== 'object') return undefined;
  const version = (app as { version?: unknown }).version;
  let schema: unknown =
    version && typeof version === 'object' ? (version as { input_schema?: unknown }).input_schema : undefined;
  schema ??= (app as { input_schema?: unknown }).input_schema;
  if (typeof schema === 'string') {
    try {
      schema = JSON.parse(schema);
    } catch {
      return undefined;
    }
  }
  return schema && typeof schema === 'object' ? (schema as JsonSchema) : undefined;
}

function enumOf(schema: JsonSchema | undefined): unknown[] | undefined {
  if (!schema) return undefined;
  if (Array.isArray(schema.enum)) return schema.enum;
  for (const branch of [...(schema.oneOf ?? []), ...(schema.anyOf ?? []), ...(schema.allOf ?? [])]) {
    const values = enumOf(branch);
    if (values) return values;
  }
  return undefined;
}

/** The schema check behind checkApp(), separate so it can be tested on any app object. */
export function compareAppSchema(
  profile: ModelProfile,
  app: unknown,
  appRef: string = INFERENCE_APPS[profile.id].app,
): string[] {
  const { requiredFields } = INFERENCE_APPS[profile.id];
  const schema = schemaOf(app);
  if (!schema)
    return [`app ${appRef} publishes no input schema; cannot check it against the ${profile.label} adapter`];
  const problems: string[] = [];
  const properties = schema.properties ?? {};
  const required = Array.isArray(schema.required)
    ? schema.required.filter((r): r is string => typeof r === 'string')
    : [];
  for (const field of required) {
    if (!requiredFields.includes(field)) {
      problems.push(
        `app ${appRef} requires the input field "${field}", which the ${profile.label} adapter does not fill`,
      );
    }
  }
  const known = Object.keys(properties);
  if (known.length > 0) {
    for (const field of requiredFields) {
      if (!known.includes(field))
        problems.push(`app ${appRef} has no input field "${field}" that the ${profile.label} adapter sends`);
    }
  }
  // Every value the adapter may send for a choice setting, mapped through the profile itself.
  const probe: GenerationRequest = {
    prompt: 'probe',
    model: profile.id,
    seed: 1,
    input_image: {
      key: 'probe',
      contentType: 'image/png',
      bytes: 1,
      width: 1,
      height: 1,
      filename: 'probe.png',
    },
  };
  const seen = new Set<string>();
  /** Optional fields the adapter may send that the schema does not list, with the settings behind them. */
  const unlisted = new Map<string, Set<string>>();
  for (const info of FIELD_INFO) {
    const mapping = appMapping(profile, info.name as SettingName);
    if (!mapping || info.name === 'prompt') continue;
    const values: unknown[] =
      info.kind === 'choice' && info.choices ? [...info.choices] : [info.defaultValue ?? 1];
    for (const value of values) {
      const mapped = mapping({ ...probe, [info.name]: value } as GenerationRequest);
      for (const [field, sent] of Object.entries(mapped)) {
        if (known.length > 0 && !known.includes(field)) {
          unlisted.set(field, (unlisted.get(field) ?? new Set()).add(info.name));
          continue;
        }
        const allowed = enumOf(properties[field]);
        if (info.kind === 'choice' && allowed && !allowed.includes(sent)) {
          const message = `app ${appRef} does not accept ${field}=${JSON.stringify(sent)} (allowed: ${allowed.map((v) => JSON.stringify(v)).join(', ')})`;
          if (!seen.has(message)) problems.push(message);
          seen.add(message);
        }
      }
    }
  }
  if (unlisted.size > 0) problems.push(unlistedFieldsLine(appRef, profile, unlisted));
  return problems;
}

/** One line per app, however many optional fields its schema leaves out: a log line per field is noise. */
function unlistedFieldsLine(
  appRef: string,
  profile: ModelProfile,
  unlisted: Map<string, Set<string>>,
): string {
  const fields = [...unlisted.keys()].map((field) => `"${field}"`).join(', ');
  const settings = [...new Set([...unlisted.values()].flatMap((names) => [...names]))].join(', ');
  return unlisted.size === 1
    ? `app ${appRef} has no input field ${fields} (the ${profile.label} adapter maps ${settings} to it)`
    : `app ${appRef} has no input fields ${fields} (the ${profile.label} adapter maps ${settings} to them)`;
}
