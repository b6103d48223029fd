import { ComfyUnreachableError, describe } from './errors.js';
import type { ComfyClient } from './http-client.js';
import { type ComfyModelFiles, MODEL_FOLDERS, MODEL_SETTINGS } from './model-files.js';
import type { Placeholder, WorkflowTemplate, WorkflowTemplates } from './template.js';

/**
 * The start-up check of one server (spec §2): it answers, and has every node and weights file the
 * workflows need. A missing node or file is named, with the setting that would change it.
 */

export interface PreflightReport {
  url: string;
  host: string;
  /** Reachable and ready: every node and weights file the workflows need is there. */
  ok: boolean;
  reachable: boolean;
  version?: string;
  devices?: { name: string; vramTotal?: number; vramFree?: number }[];
  /** What makes the server unusable, one line each, naming the node or file. */
  problems: string[];
  /** What limits it (e.g. no FLF2V weights) without making it unusable. */
  warnings: string[];
  checkedAt: number;
}

export interface PreflightTarget {
  url: string;
  host: string;
  client: Pick<ComfyClient, 'systemStats' | 'objectInfo' | 'models'>;
}

export interface PreflightOptions {
  templates: WorkflowTemplates;
  models: ComfyModelFiles;
  /** Checks give up sooner than job calls, so one silent host cannot stall a pick. */
  probeTimeoutMs: number;
}

/** Extra core nodes some requests insert (spec §10); missing ones only limit those requests. */
const EXTRA_NODES = ['ImageScaleBy', 'VAEDecodeTiled', 'CFGZeroStar'];

const classesOf = (template: WorkflowTemplate) =>
  new Set(Object.values(template.graph).map((node) => node.class_type));

/** The report for a server that did not answer. */
export function unreachableReport(
  server: Pick<PreflightTarget, 'url' | 'host'>,
  error: unknown,
  checkedAt = Date.now(),
): PreflightReport {
  return {
    url: server.url,
    host: server.host,
    ok: false,
    reachable: false,
    problems: [`ComfyUI at ${server.host} does not answer (${describe(error)})`],
    warnings: [],
    checkedAt,
  };
}

export async function inspectServer(
  server: PreflightTarget,
  options: PreflightOptions,
): Promise<PreflightReport> {
  const base = { url: server.url, host: server.host, checkedAt: Date.now() };
  const client = server.client;
  const probeTimeoutMs = options.probeTimeoutMs;
  let stats: Record<string, unknown>;
  try {
    stats = await client.systemStats(undefined, probeTimeoutMs);
  } catch (error) {
    return unreachableReport(server, error, base.checkedAt);
  }
  const problems: string[] = [];
  const warnings: string[] = [];
  const system = (stats.system ?? {}) as Record<string, unknown>;
  const version = typeof system.comfyui_version === 'string' ? system.comfyui_version : undefined;
  const devices = Array.isArray(stats.devices)
    ? (stats.devices as Record<string, unknown>[]).map((device) => ({
        name: String(device.name ?? 'unknown'),
        ...(typeof device.vram_total === 'number' ? { vramTotal: device.vram_total } : {}),
        ...(typeof device.vram_free === 'number' ? { vramFree: device.vram_free } : {}),
      }))
    : undefined;
  let unreachable: unknown;

  const { i2v, flf } = options.templates;
  const required = classesOf(i2v);
  required.add('WanImageToVideo');
  const optional = new Set([...classesOf(flf), ...EXTRA_NODES].filter((c) => !required.has(c)));
  const nodeChecks = [...required, ...optional].map(async (classType) => {
    try {
      const info = await client.objectInfo(classType, undefined, probeTimeoutMs);
      return { classType, present: Object.keys(info).length > 0 };
    } catch (error) {
      if (error instanceof ComfyUnreachableError) unreachable = error;
      return { classType, present: false, error };
    }
  });

  const files: { key: keyof ComfyModelFiles; file: string; required: boolean }[] = [];
  const models = options.models;
  for (const key of ['unet', 'textEncoder', 'vae', 'clipVision'] as const) {
    const placeholder = `model.${key}` as Placeholder;
    if (i2v.placeholders.has(placeholder) || flf.placeholders.has(placeholder)) {
      files.push({ key, file: models[key], required: true });
    }
  }
  if (models.flfUnet && flf.placeholders.has('model.unet')) {
    files.push({ key: 'flfUnet', file: models.flfUnet, required: false });
  }
  const folders = [...new Set(files.map((f) => MODEL_FOLDERS[f.key]))];
  const listings = new Map<string, string[] | Error>();
  const folderChecks = folders.map(async (folder) => {
    try {
      listings.set(folder, await client.models(folder, undefined, probeTimeoutMs));
    } catch (error) {
      if (error instanceof ComfyUnreachableError) unreachable = error;
      listings.set(folder, error as Error);
    }
  });

  const nodes = await Promise.all(nodeChecks);
  await Promise.all(folderChecks);
  if (unreachable) {
    return {
      ...base,
      ok: false,
      reachable: false,
      ...(version ? { version } : {}),
      problems: [`ComfyUI at ${server.host} stopped answering during the check (${describe(unreachable)})`],
      warnings: [],
    };
  }
  for (const node of nodes) {
    if (node.present) continue;
    const reason = node.error ? ` (${describe(node.error)})` : '';
    if (required.has(node.classType)) {
      problems.push(`ComfyUI at ${server.host} has no ${node.classType} node${reason}`);
    } else {
      warnings.push(
        `ComfyUI at ${server.host} has no ${node.classType} node, so requests that need it will fail`,
      );
    }
  }
  for (const { key, file, required: needed } of files) {
    const folder = MODEL_FOLDERS[key];
    const listing = listings.get(folder);
    if (listing instanceof Error) {
      warnings.push(`could not list models/${folder} on ComfyUI at ${server.host} (${describe(listing)})`);
      continue;
    }
    if (listing?.includes(file)) continue;
    const present = (listing ?? []).filter((name) => /wan|umt5|clip_vision/i.test(name)).slice(0, 4);
    const hint = `; put it there or set ${MODEL_SETTINGS[key]} to a file the server has${present.length > 0 ? ` (e.g. ${present.join(', ')})` : ''}`;
    const line = `ComfyUI at ${server.host} is missing model file ${file} (models/${folder})${hint}`;
    if (needed) problems.push(line);
    else warnings.push(`${line}; first-and-last-frame jobs will fail there`);
  }
  return {
    ...base,
    ok: problems.length === 0,
    reachable: true,
    ...(version ? { version } : {}),
    ...(devices ? { devices } : {}),
    problems,
    warnings,
  };
}
