import { MODEL_PROFILES, type ModelProfile, resolutionOf, takesSetting } from '../../core/models.js';
import { type GenerationRequest, MODEL_IDS, type ModelId, type SettingName } from '../../core/request.js';

/**
 * The inference.sh apps behind Kinema's models and how a request is written as an app's input
 * (shared/specs/wan-apps.md §2-§6). Data, not code paths: switching the default app is a
 * configuration change.
 */

/** Writes one setting of a request as the app's own input field(s); empty when it is not set. */
type Mapping = (request: GenerationRequest) => Record<string, unknown>;

export interface InferenceApp {
  /** inference.sh app reference, `namespace/name`. */
  readonly app: string;
  readonly imageField: string;
  readonly endImageField: string;
  /** Key of the video in the task output. */
  readonly outputField: string;
  /** Required input fields the adapter fills, checked against the app's published schema. */
  readonly requiredFields: readonly string[];
  /** Wan 2.1's schema declares file inputs as objects; the Wan 2.2 apps take plain URLs. */
  readonly fileForm: 'string' | 'object';
  /** Settings the app takes under another name or in another form; every other goes as it is. */
  readonly renamed?: Partial<Record<SettingName, Mapping>>;
}

const same =
  (name: SettingName): Mapping =>
  (request) =>
    request[name] === undefined ? {} : { [name]: request[name] };

/** The Wan 2.2 apps share one input shape: plain file URLs, `image`/`end_image`, a resolution. */
const wan22 = (app: string): InferenceApp => ({
  app,
  imageField: 'image',
  endImageField: 'end_image',
  outputField: 'file',
  requiredFields: ['prompt', 'image'],
  fileForm: 'string',
  renamed: {
    size: (request) => (request.size === undefined ? {} : { resolution: resolutionOf(request.size) }),
  },
});

export const INFERENCE_APPS: Readonly<Record<ModelId, InferenceApp>> = {
  'wan2.1': {
    app: 'infsh/wan2-1-i2v',
    imageField: 'input_image',
    endImageField: 'end_frame',
    outputField: 'video',
    requiredFields: ['prompt', 'input_image'],
    fileForm: 'string',
  },
  'wan2.2-a14b': wan22('infsh/wan2-2-i2v-a14b'),
  'wan2.2-5b': wan22('infsh/wan2-2-i2v-5b'),
  'wan2.2-lightning': wan22('infsh/lightning-wan-2-2-i2v-a14b'),
};

/** The app part of `namespace/name@version`. */
export const appName = (app: string): string => app.split('@')[0]!;

/** The API path of an app's record: `/apps/{namespace}/{name}`. */
export function appPath(app: string): string {
  const [namespace, name] = appName(app).split('/');
  return `/apps/${encodeURIComponent(namespace ?? '')}/${encodeURIComponent(name ?? '')}`;
}

/** The model an app reference (pinned or not) runs, if it is one of Kinema's. */
export function modelForApp(app: string): ModelProfile | undefined {
  const name = appName(app);
  const id = MODEL_IDS.find((model) => INFERENCE_APPS[model].app === name);
  return id ? MODEL_PROFILES[id] : undefined;
}

/** The app reference to run a model with: the configured one (keeping a pinned @version) when it is that app. */
export function appRefFor(profile: ModelProfile, configuredApp: string): string {
  const app = INFERENCE_APPS[profile.id].app;
  return appName(configuredApp) === app ? configuredApp : app;
}

/** How a setting goes into the model's app input; undefined when the model does not take it. */
export function appMapping(profile: ModelProfile, name: SettingName): Mapping | undefined {
  if (!takesSetting(profile, name)) return undefined;
  return INFERENCE_APPS[profile.id].renamed?.[name] ?? same(name);
}

export interface AppInput {
  input: Record<string, unknown>;
  /** Settings the model does not understand, dropped and listed for the user. */
  ignored: SettingName[];
  /** Settings the user gave that the app takes but does not act on; sent, and listed too. */
  inert: SettingName[];
}

/**
 * Settings with no effect anywhere in the mapping. `prompt`, `model` and `seed` are always used;
 * `loop` has reached the app as its end frame (core renderedRequest).
 */
const NEVER_IGNORED: ReadonlySet<SettingName> = new Set(['prompt', 'model', 'loop']);

/**
 * Builds the app input for a request. File fields are filled by the caller with uploaded URIs.
 * A setting the user gave that the app has no field for is dropped and reported, never silently.
 */
export function mapToApp(
  request: GenerationRequest,
  profile: ModelProfile,
  files: { image: string; endImage?: string },
): AppInput {
  const app = INFERENCE_APPS[profile.id];
  const input: Record<string, unknown> = {};
  const ignored: SettingName[] = [];
  const inert = (profile.inert ?? []).filter((name) => request[name] !== undefined);
  for (const [name, value] of Object.entries(request) as [keyof GenerationRequest, unknown][]) {
    if (value === undefined || name === 'input_image' || name === 'end_frame') continue;
    const setting = name as SettingName;
    if (NEVER_IGNORED.has(setting)) continue;
    const mapping = appMapping(profile, setting);
    if (!mapping) {
      ignored.push(setting);
      continue;
    }
    Object.assign(input, mapping(request));
  }
  Object.assign(input, appMapping(profile, 'prompt')?.(request));
  const asFile = (uri: string) => (app.fileForm === 'object' ? { uri } : uri);
  input[app.imageField] = asFile(files.image);
  if (files.endImage) input[app.endImageField] = asFile(files.endImage);
  return { input, ignored, inert };
}

/** The notes shown to the user for settings of a request the model drops or does not act on. */
export function describeIgnored(request: GenerationRequest): string[] {
  const profile = MODEL_PROFILES[request.model];
  const { ignored, inert } = mapToApp(request, profile, { image: 'about:blank' });
  return [
    ...ignored.map((name) => `${name} is not used by ${profile.label} and was ignored`),
    ...inert.map((name) => `${name} is accepted by ${profile.label} but has no effect there`),
  ];
}
