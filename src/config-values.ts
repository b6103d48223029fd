import { z } from 'zod';
import { MODEL_IDS, RESOLUTIONS } from './core/settings.js';

/** The kinds of value settings take, shared by the environment's schema (config.ts) and per-server settings. */
export const emptyAsUndefined = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;
export const optionalString = z.preprocess(emptyAsUndefined, z.string().trim().optional());
export const optionalUrl = z.preprocess(
  emptyAsUndefined,
  z.url({ error: 'must be an http(s) URL' }).optional(),
);
export const int = (min: number, max: number, fallback: number) =>
  z.preprocess(
    emptyAsUndefined,
    z.coerce
      .number({ error: `must be a whole number from ${min} to ${max}` })
      .int({ error: `must be a whole number from ${min} to ${max}` })
      .min(min, { error: `must be a whole number from ${min} to ${max}` })
      .max(max, { error: `must be a whole number from ${min} to ${max}` })
      .default(fallback),
  );
export const flag = (fallback: boolean) =>
  z.preprocess(
    (value) => {
      const v = emptyAsUndefined(value);
      if (typeof v !== 'string') return v;
      if (/^(1|true|yes|on)$/i.test(v)) return true;
      if (/^(0|false|no|off)$/i.test(v)) return false;
      return v;
    },
    z.boolean({ error: 'must be true or false' }).default(fallback),
  );
export const csv = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean)
      : value,
  z.array(z.string()).default([]),
);
export const fraction = (fallback: number) =>
  z.preprocess(
    emptyAsUndefined,
    z.coerce
      .number({ error: 'must be a number from 0 to 1, e.g. 0.7' })
      .min(0, { error: 'must be a number from 0 to 1, e.g. 0.7' })
      .max(1, { error: 'must be a number from 0 to 1, e.g. 0.7' })
      .default(fallback),
  );

const PRICE_ENTRY = new RegExp(
  `^(${MODEL_IDS.join('|').replace(/\./g, '\\.')})(@(${RESOLUTIONS.join('|')}))?=(\\d+(\\.\\d+)?)$`,
);
/** `wan2.2-a14b@480p=0.20,wan2.1=0.10`: price per video by model and resolution, or by model alone. */
export const priceTable = z.preprocess(
  (value) => (typeof value === 'string' ? value : undefined),
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      const table: Record<string, number> = {};
      for (const entry of (value ?? '').split(',').map((part) => part.trim().replace(/\s*=\s*/, '='))) {
        if (!entry) continue;
        const match = PRICE_ENTRY.exec(entry);
        if (!match) {
          ctx.addIssue({
            code: 'custom',
            message: `has "${entry.slice(0, 60)}"; entries are model@resolution=price or model=price, e.g. wan2.2-a14b@480p=0.20 (models: ${MODEL_IDS.join(', ')}; resolutions: ${RESOLUTIONS.join(', ')})`,
          });
          continue;
        }
        table[`${match[1]}${match[2] ?? ''}`] = Number(match[4]);
      }
      return table;
    }),
);
export const ownerIds = z.preprocess(
  (value) => csv.parse(value),
  z.array(
    z.string().regex(/^(discord:\d{5,25}|slack:[UW][A-Z0-9]{2,20})$/, {
      error: 'must list platform:user id pairs, e.g. discord:123456789012345678,slack:U0123ABCD',
    }),
  ),
);
export const quota = int(0, 1_000_000, 0);
