/**
 * The four Wan apps as the fake publishes them (`GET /apps/{namespace}/{name}`), transcribed from
 * shared/specs/wan-apps.md §2-§5. The fake validates run inputs against these schemas.
 */

export interface PropertySchema {
  type?: string | string[];
  default?: unknown;
  enum?: unknown[];
  oneOf?: PropertySchema[];
  description?: string;
  properties?: Record<string, PropertySchema>;
}

export interface InputSchema {
  type: 'object';
  required: string[];
  properties: Record<string, PropertySchema>;
}

export interface FakeApp {
  namespace: string;
  name: string;
  input_schema: InputSchema;
  output_schema: { type: 'object'; required: string[]; properties: Record<string, PropertySchema> };
  /** File inputs the worker downloads before running. */
  fileFields: string[];
  outputField: string;
}

const fileObject: PropertySchema = {
  type: 'object',
  properties: {
    uri: { type: ['string', 'null'] },
    path: { type: ['string', 'null'] },
    content_type: { type: ['string', 'null'] },
    size: { type: ['integer', 'null'] },
    filename: { type: ['string', 'null'] },
  },
};
const fileOrUrl: PropertySchema = { oneOf: [fileObject, { type: 'string' }] };

export const WAN22_NEGATIVE =
  'oversaturated, overexposed, static, blurry details, subtitles, stylized, artwork, painting, still image, overall gray, worst quality, low quality, JPEG artifacts, ugly, deformed, extra fingers, poorly drawn hands, poorly drawn face, malformed, disfigured, deformed limbs, fused fingers, static motionless frame, cluttered background, three legs, crowded background, walking backwards';

const fileOutput = (key: string) => ({
  type: 'object' as const,
  required: [key],
  properties: { [key]: fileObject },
});

/**
 * Apps retired upstream (wan-apps.md §0, grid commit 85af325). The spec expects the service to refuse
 * them with 404 `not_found` ("app infsh/wan2-1-i2v not found", inference-sh-api.md §4), and so does the
 * fake unless a test asks it to keep running them.
 */
export const RETIRED_APPS: readonly string[] = ['infsh/wan2-1-i2v'];

export const FAKE_APPS: Record<string, FakeApp> = {
  'infsh/wan2-1-i2v': {
    namespace: 'infsh',
    name: 'wan2-1-i2v',
    fileFields: ['input_image', 'end_frame'],
    outputField: 'video',
    output_schema: fileOutput('video'),
    input_schema: {
      type: 'object',
      required: ['prompt', 'input_image'],
      properties: {
        prompt: { type: 'string' },
        // The 2.1 schema declares only the object form; its runtime turns a string into {uri}.
        input_image: fileObject,
        end_frame: { ...fileObject, type: ['object', 'null'] },
        size: { type: 'string', default: '832x480', enum: ['832x480', '480x832', '1280x720', '720x1280'] },
        num_frames: { type: 'integer', default: 81 },
        fps: { type: 'integer', default: 16 },
        guidance_scale: { type: 'number', default: 5.0 },
        num_inference_steps: { type: 'integer', default: 30 },
        seed: { type: ['integer', 'null'], default: -1 },
        negative_prompt: { type: 'string', default: '' },
        sample_solver: { type: 'string', default: 'unipc' },
        shift: { type: 'number', default: 5.0 },
        tea_cache: { type: 'number', default: 2.0 },
        tea_cache_start_step_perc: { type: 'integer', default: 0 },
        lora_file: { type: ['string', 'null'], default: null },
        lora_multiplier: { type: 'number', default: 1.0 },
        vae_tile_size: { type: 'integer', default: 128 },
        enable_RIFLEx: { type: 'boolean', default: true },
        joint_pass: { type: 'boolean', default: true },
        attention: { type: 'string', default: 'sage', enum: ['sage', 'sdpa'] },
        cfg_star_switch: { type: 'boolean', default: true },
        cfg_zero_step: { type: 'integer', default: 5 },
        add_frames_for_end_image: { type: 'boolean', default: true },
        temporal_upsampling: { type: 'string', default: '', enum: ['', 'rife2', 'rife4'] },
        spatial_upsampling: { type: 'string', default: '', enum: ['', 'lanczos1.5', 'lanczos2'] },
      },
    },
  },
  'infsh/wan2-2-i2v-a14b': {
    namespace: 'infsh',
    name: 'wan2-2-i2v-a14b',
    fileFields: ['image', 'end_image'],
    outputField: 'file',
    output_schema: fileOutput('file'),
    input_schema: {
      type: 'object',
      required: ['image', 'prompt'],
      properties: {
        image: fileOrUrl,
        prompt: { type: 'string' },
        negative_prompt: { type: 'string', default: WAN22_NEGATIVE },
        resolution: { type: 'string', default: '720p', enum: ['480p', '720p'] },
        num_frames: { type: 'integer', default: 81 },
        guidance_scale: { type: 'number', default: 3.5 },
        num_inference_steps: { type: 'integer', default: 40 },
        fps: { type: 'integer', default: 16 },
        seed: { type: ['integer', 'null'], default: null },
        boundary_ratio: { type: 'number', default: 0.875 },
        end_image: { oneOf: [fileObject, { type: 'string' }, { type: 'null' }] },
      },
    },
  },
  'infsh/wan2-2-i2v-5b': {
    namespace: 'infsh',
    name: 'wan2-2-i2v-5b',
    fileFields: ['image', 'end_image'],
    outputField: 'file',
    output_schema: fileOutput('file'),
    input_schema: {
      type: 'object',
      required: ['image', 'prompt'],
      properties: {
        image: fileOrUrl,
        prompt: { type: 'string' },
        negative_prompt: { type: 'string', default: WAN22_NEGATIVE },
        resolution: { type: 'string', default: '720p', enum: ['480p', '720p'] },
        num_frames: { type: 'integer', default: 121 },
        guidance_scale: { type: 'number', default: 5.0 },
        num_inference_steps: { type: 'integer', default: 50 },
        fps: { type: 'integer', default: 24 },
        seed: { type: ['integer', 'null'], default: null },
        cache_threshold: { type: 'number', default: 0.0 },
        video_output_quality: { type: 'integer', default: 5 },
        end_image: { oneOf: [fileObject, { type: 'string' }, { type: 'null' }] },
      },
    },
  },
  'infsh/lightning-wan-2-2-i2v-a14b': {
    namespace: 'infsh',
    name: 'lightning-wan-2-2-i2v-a14b',
    fileFields: ['image', 'end_image'],
    outputField: 'file',
    output_schema: {
      type: 'object',
      required: ['file'],
      properties: { file: fileObject, output_meta: { type: ['object', 'null'] } },
    },
    input_schema: {
      type: 'object',
      required: ['image', 'prompt'],
      properties: {
        image: fileOrUrl,
        resolution: { type: 'string', default: '480p', enum: ['480p', '720p'] },
        end_image: { oneOf: [fileObject, { type: 'string' }, { type: 'null' }] },
        prompt: { type: 'string' },
        negative_prompt: { type: 'string', default: WAN22_NEGATIVE },
        num_frames: { type: 'integer', default: 81 },
        num_inference_steps: { type: 'integer', default: 4 },
        fps: { type: 'integer', default: 16 },
        seed: { type: ['integer', 'null'], default: null },
        boundary_ratio: { type: 'number', default: 0.875 },
      },
    },
  },
};

const typeMatches = (type: string, value: unknown): boolean => {
  switch (type) {
    case 'null':
      return value === null;
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return true;
  }
};

function matches(schema: PropertySchema, value: unknown): boolean {
  if (schema.oneOf) return schema.oneOf.some((branch) => matches(branch, value));
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((type) => typeMatches(type, value))) return false;
  }
  if (schema.enum && !schema.enum.includes(value)) return false;
  return true;
}

/**
 * Validates an input as the fake's API does before creating a task. The Wan 2.1 app takes a URL
 * string for a file too (its runtime converts it), as `inference-sh-api.md` §10.2 describes.
 * Unknown fields are refused, which keeps the adapters' allow-lists honest.
 */
export function validateInput(
  app: FakeApp,
  input: Record<string, unknown>,
  extraRequired: string[] = [],
): string[] {
  const problems: string[] = [];
  for (const field of [...app.input_schema.required, ...extraRequired]) {
    if (input[field] === undefined || input[field] === null || input[field] === '') {
      problems.push(`input.${field} is required`);
    }
  }
  for (const [field, value] of Object.entries(input)) {
    const schema = app.input_schema.properties[field];
    if (!schema) {
      if (!extraRequired.includes(field))
        problems.push(`input.${field} is not an input of ${app.namespace}/${app.name}`);
      continue;
    }
    const stringFile = app.fileFields.includes(field) && typeof value === 'string';
    if (!stringFile && !matches(schema, value)) {
      const allowed = schema.enum
        ? ` (allowed: ${schema.enum.map((v) => JSON.stringify(v)).join(', ')})`
        : '';
      problems.push(`input.${field} has an invalid value ${JSON.stringify(value)}${allowed}`);
    }
  }
  return problems;
}
