import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config.js';

describe('.env.example', () => {
  it('documents every setting the configuration reads, and nothing it does not', () => {
    const documented = readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
      .split('\n')
      .map((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
      .filter((name): name is string => Boolean(name))
      .sort();
    const shape = configSchema.shape;
    expect(documented).toEqual(Object.keys(shape).sort());
  });
});
