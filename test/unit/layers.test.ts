import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The architecture's import rules (README, "Architecture"), checked on the source itself. */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module a file imports, as a path relative to src/ (packages as their name). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((match) => match[1]!);
  return specifiers.map((specifier) =>
    specifier.startsWith('.') ? relative(SRC, resolve(file, '..', specifier)) : specifier,
  );
}

function violations(layer: string, forbidden: (target: string) => boolean): string[] {
  return filesUnder(join(SRC, layer)).flatMap((file) =>
    importsOf(file)
      .filter(forbidden)
      .map((target) => `${relative(SRC, file)} imports ${target}`),
  );
}

const isPlatform = (target: string) =>
  target.startsWith('platforms') || target === 'discord.js' || target.startsWith('@slack/');

describe('layers', () => {
  it('keeps the core free of queues, backends and platforms', () => {
    expect(
      violations(
        'core',
        (target) => !target.startsWith('core') && !['zod'].includes(target) && !target.startsWith('node:'),
      ),
    ).toEqual([]);
  });

  it('keeps queue, storage, media, backends and service free of Discord and Slack', () => {
    for (const layer of ['queue', 'storage', 'media', 'backends', 'service']) {
      expect(violations(layer, isPlatform)).toEqual([]);
    }
  });

  it('reads imports (so the rules above can fail)', () => {
    expect(importsOf(join(SRC, 'pipeline.ts'))).toEqual(
      expect.arrayContaining(['queue/cancel.js', 'ioredis']),
    );
  });

  it('keeps platform adapters away from backends, and backends away from the queue', () => {
    expect(violations('platforms', (target) => target.startsWith('backends'))).toEqual([]);
    expect(violations('backends', (target) => target.startsWith('queue'))).toEqual([]);
  });
});
