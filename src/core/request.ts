/**
 * The generation request, in one place for everyone outside the core: the settings table and its
 * field kinds, reading what people type, and the request a job carries. Each part has its own file;
 * this module only gathers them, so importers need not know how the core is cut up.
 */

export {
  finaliseRequest,
  type GenerationRequest,
  generationRequestSchema,
  renderedRequest,
  resolveSeed,
  type StoredImage,
  storedImageSchema,
  variantSeeds,
} from './generation-request.js';
export { type Parsed, parseKeyValues, parseSettings } from './parse-settings.js';
export type { FieldInfo, FieldKind } from './setting-fields.js';
export {
  canonicalSettingName,
  defaultSettings,
  FIELD_INFO,
  fieldInfo,
  type GenerationSettings,
  generationSettingsSchema,
  MAX_SEED,
  MODEL_IDS,
  type ModelId,
  PROMPT_MAX_CHARS,
  RESOLUTIONS,
  type Resolution,
  SETTING_NAMES,
  type SettingName,
  SIZES,
  type Size,
} from './settings.js';
