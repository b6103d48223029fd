import { z } from 'zod';

/**
 * The kinds of setting a user can give (text, whole number, number, switch, choice, LoRA URL): each
 * builder makes the zod validator with its error messages and the description a platform renders
 * (a Discord option, a Slack input, a CLI flag), from one place.
 */

export type FieldKind = 'text' | 'integer' | 'number' | 'boolean' | 'choice' | 'url';

/** What a platform needs to render one option; derived from the same place as the validator. */
export interface FieldInfo {
  readonly name: string;
  readonly kind: FieldKind;
  readonly description: string;
  readonly defaultValue: string | number | boolean | null;
  readonly choices?: readonly (string | number)[];
  readonly min?: number;
  readonly max?: number;
  readonly maxLength?: number;
  /** Shown as a first-class option in chat; the rest go through the `advanced` key=value field. */
  readonly common: boolean;
  /** Other names accepted on input (CLI flags, `advanced`), e.g. `frames` for `num_frames`. */
  readonly aliases: readonly string[];
}

export interface Field {
  info: FieldInfo;
  schema: z.ZodType;
}

const numberFrom = (value: unknown) => {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  return trimmed === '' || Number.isNaN(Number(trimmed)) ? value : Number(trimmed);
};
const booleanFrom = (value: unknown) => {
  if (typeof value !== 'string') return value;
  if (/^(true|yes|on|1)$/i.test(value.trim())) return true;
  if (/^(false|no|off|0)$/i.test(value.trim())) return false;
  return value;
};

interface Common {
  description: string;
  common?: boolean;
  aliases?: string[];
}

export function text(
  name: string,
  opts: Common & { min: number; max: number; defaultValue: string | null },
): Field {
  const message = `${name} must be ${opts.min} to ${opts.max} characters`;
  return {
    info: { name, kind: 'text', maxLength: opts.max, common: false, aliases: [], ...opts },
    schema: z
      .string({ error: `${name} must be text` })
      .trim()
      .min(opts.min, { error: `${message} (it is empty)` })
      .max(opts.max, { error: (issue) => `${message} (it has ${String(issue.input ?? '').length})` }),
  };
}

export function integer(
  name: string,
  opts: Common & { min: number; max: number; defaultValue: number; fourNPlusOne?: boolean },
): Field {
  const range = opts.fourNPlusOne
    ? `a number of the form 4n+1 from ${opts.min} to ${opts.max}, e.g. 81`
    : `a whole number from ${opts.min} to ${opts.max}`;
  let schema = z
    .number({ error: (issue) => `${name} must be ${range} (got ${JSON.stringify(issue.input)})` })
    .int({ error: (issue) => `${name} must be ${range} (got ${JSON.stringify(issue.input)})` })
    .min(opts.min, { error: (issue) => `${name} must be ${range} (got ${JSON.stringify(issue.input)})` })
    .max(opts.max, { error: (issue) => `${name} must be ${range} (got ${JSON.stringify(issue.input)})` });
  if (opts.fourNPlusOne) {
    schema = schema.refine((n) => (n - 1) % 4 === 0, {
      error: (issue) => {
        const n = Number(issue.input);
        const below = Math.floor((n - 1) / 4) * 4 + 1;
        return `${name} must be ${range} (got ${n}; the nearest allowed values are ${below} and ${below + 4})`;
      },
    });
  }
  return {
    info: { name, kind: 'integer', common: false, aliases: [], ...opts },
    schema: z.preprocess(numberFrom, schema),
  };
}

export function decimal(
  name: string,
  opts: Common & { min: number; max: number; defaultValue: number },
): Field {
  const message = `${name} must be a number from ${opts.min} to ${opts.max}`;
  return {
    info: { name, kind: 'number', common: false, aliases: [], ...opts },
    schema: z.preprocess(
      numberFrom,
      z
        .number({ error: (issue) => `${message} (got ${JSON.stringify(issue.input)})` })
        .min(opts.min, { error: (issue) => `${message} (got ${JSON.stringify(issue.input)})` })
        .max(opts.max, { error: (issue) => `${message} (got ${JSON.stringify(issue.input)})` }),
    ),
  };
}

export function boolean(name: string, opts: Common & { defaultValue: boolean }): Field {
  return {
    info: { name, kind: 'boolean', common: false, aliases: [], ...opts },
    schema: z.preprocess(
      booleanFrom,
      z.boolean({ error: (issue) => `${name} must be true or false (got ${JSON.stringify(issue.input)})` }),
    ),
  };
}

export function choice<const T extends readonly [string, ...string[]]>(
  name: string,
  values: T,
  opts: Common & { defaultValue: T[number] | null },
): Field {
  const shown = values.map((v) => (v === '' ? '"" (off)' : v)).join(', ');
  return {
    info: { name, kind: 'choice', choices: values, common: false, aliases: [], ...opts },
    schema: z.enum(values, {
      error: (issue) => `${name} must be one of ${shown} (got ${JSON.stringify(issue.input)})`,
    }),
  };
}

export function numericChoice(
  name: string,
  values: readonly number[],
  opts: Common & { defaultValue: number },
): Field {
  const message = `${name} must be one of ${values.join(', ')}`;
  return {
    info: { name, kind: 'choice', choices: values, common: false, aliases: [], ...opts },
    schema: z.preprocess(
      numberFrom,
      z
        .number({ error: (issue) => `${message} (got ${JSON.stringify(issue.input)})` })
        .refine((n) => values.includes(n), {
          error: (issue) => `${message} (got ${JSON.stringify(issue.input)})`,
        }),
    ),
  };
}

export function loraUrl(name: string, opts: Common): Field {
  const message = `${name} must be an https:// URL to a .safetensors file`;
  return {
    info: { name, kind: 'url', defaultValue: null, common: false, aliases: [], ...opts },
    schema: z
      .string({ error: message })
      .trim()
      .max(2000, { error: `${message} (at most 2000 characters)` })
      .refine(
        (value) => {
          try {
            const url = new URL(value);
            return url.protocol === 'https:' && url.pathname.toLowerCase().endsWith('.safetensors');
          } catch {
            return false;
          }
        },
        { error: (issue) => `${message} (got ${JSON.stringify(issue.input)})` },
      ),
  };
}
