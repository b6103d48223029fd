import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The architecture's import rules (README, "Architecture", and shared/architecture.md), checked on
 * the source itself: every .ts file under src/ and commands/, and the deploy script. Paths are
 * relative to the project root; packages keep their name.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Graph = Map<string, string[]>;

interface Rule {
  name: string;
  /** The files the rule is about. */
  appliesTo(file: string): boolean;
  /** An import those files must not have. */
  forbids(target: string): boolean;
}

const WIRING = 'src/pipeline.ts';
const ENTRY_POINTS = ['src/main.ts', 'src/cli/animate.ts', 'deploy-commands.ts'];
const CHAT_LIBRARIES = (target: string) => target === 'discord.js' || target.startsWith('@slack/');
const under =
  (...folders: string[]) =>
  (path: string) =>
    folders.some((folder) => path.startsWith(folder));
const isPlatform = under('src/platforms/', 'commands/');
const isBackend = (target: string) =>
  target.startsWith('src/backends/') && target !== 'src/backends/backend.ts';

/** One entry per rule of the README's table, in its order. */
const RULES: Rule[] = [
  {
    name: 'core knows only zod',
    appliesTo: under('src/core/'),
    forbids: (target) => !target.startsWith('src/core/') && target !== 'zod' && !target.startsWith('node:'),
  },
  {
    name: 'queue knows no platform, service or backend (only their interface)',
    appliesTo: under('src/queue/'),
    forbids: (target) => isPlatform(target) || target.startsWith('src/service/') || isBackend(target),
  },
  {
    name: 'storage and media know no platform, service, queue or backend',
    appliesTo: under('src/storage/', 'src/media/'),
    forbids: under('src/platforms/', 'commands/', 'src/service/', 'src/queue/', 'src/backends/'),
  },
  {
    name: 'backends know no platform, queue or service',
    appliesTo: under('src/backends/'),
    forbids: under('src/platforms/', 'commands/', 'src/queue/', 'src/service/'),
  },
  {
    name: 'the service knows no platform and no backend (only their interface)',
    appliesTo: under('src/service/'),
    forbids: (target) => isPlatform(target) || isBackend(target),
  },
  {
    name: 'ops (metrics, dashboard) knows no platform, backend or storage (the service is its door)',
    appliesTo: under('src/ops/'),
    forbids: (target) =>
      isPlatform(target) || target.startsWith('src/backends/') || target.startsWith('src/storage/'),
  },
  {
    name: 'platforms and command files know no backend, queue or storage (the service is their door)',
    appliesTo: isPlatform,
    forbids: under('src/backends/', 'src/queue/', 'src/storage/'),
  },
  {
    name: 'only platforms, command files and the deploy script use a chat library',
    appliesTo: (file) => !isPlatform(file) && file !== 'deploy-commands.ts',
    forbids: CHAT_LIBRARIES,
  },
  {
    name: 'nothing but entry points imports the wiring',
    appliesTo: (file) => !ENTRY_POINTS.includes(file),
    forbids: (target) => target === WIRING,
  },
  {
    name: 'nothing imports an entry point',
    appliesTo: () => true,
    forbids: (target) => ENTRY_POINTS.includes(target),
  },
];

/** Every rule broken by the graph, as "rule: file imports target". */
function violations(graph: Graph, rules: readonly Rule[] = RULES): string[] {
  return rules.flatMap((rule) =>
    [...graph].flatMap(([file, targets]) =>
      rule.appliesTo(file)
        ? targets
            .filter((target) => rule.forbids(target))
            .map((target) => `${rule.name}: ${file} imports ${target}`)
        : [],
    ),
  );
}

/**
 * Every import circle, each as "import circle: a → b → … → a", starting at its first file in sorting
 * order and following the shortest way back. Type-only and dynamic imports count: a circle of types
 * is still two files that cannot be understood one without the other.
 */
function circles(graph: Graph): string[] {
  const found = new Set<string>();
  for (const start of [...graph.keys()].sort()) {
    const circle = shortestWayBack(graph, start);
    if (!circle) continue;
    const first = circle.indexOf([...circle].sort()[0]!);
    const rotated = [...circle.slice(first), ...circle.slice(0, first)];
    found.add(`import circle: ${[...rotated, rotated[0]].join(' → ')}`);
  }
  return [...found];
}

/** The files of the shortest path from `start` back to itself (breadth first), or undefined. */
function shortestWayBack(graph: Graph, start: string): string[] | undefined {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i += 1) {
    const file = queue[i]!;
    for (const target of graph.get(file) ?? []) {
      if (target === start) {
        const path = [file];
        while (path[0] !== start) path.unshift(cameFrom.get(path[0]!)!);
        return path;
      }
      if (cameFrom.has(target) || !graph.has(target)) continue;
      cameFrom.set(target, file);
      queue.push(target);
    }
  }
  return undefined;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module a file imports (static, dynamic, type-only and re-exports). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((match) => match[1]!);
  return specifiers.map((specifier) =>
    specifier.startsWith('.')
      ? relative(ROOT, resolve(dirname(file), specifier)).replace(/\.js$/, '.ts')
      : specifier,
  );
}

function sourceGraph(): Graph {
  const files = [
    ...filesUnder(join(ROOT, 'src')),
    ...filesUnder(join(ROOT, 'commands')),
    join(ROOT, 'deploy-commands.ts'),
  ];
  return new Map(files.map((file) => [relative(ROOT, file), importsOf(file)]));
}

describe('layers', () => {
  const graph = sourceGraph();

  it('reads the real import graph (so the rules below have something to hold)', () => {
    expect(graph.get('src/main.ts')).toEqual(expect.arrayContaining([WIRING, 'src/platforms/index.ts']));
    expect(graph.get('commands/animate.ts')).toEqual(
      expect.arrayContaining(['discord.js', 'src/platforms/discord/intake.ts']),
    );
    expect(graph.get('src/platforms/slack/events/reactions.ts')).toEqual(
      expect.arrayContaining(['src/platforms/slack/jobs.ts']),
    );
    expect(graph.get('src/service/platform-feed.ts')).toContain('src/queue/bot-status-tracker.ts');
  });

  it('follows every rule of the architecture table', () => {
    expect(violations(graph)).toEqual([]);
  });

  it('reports each broken rule (a fake graph with one violation per rule)', () => {
    const broken: Graph = new Map([
      ['src/core/status-text.ts', ['src/queue/generation-queue.ts']],
      ['src/queue/generation-worker.ts', ['src/backends/comfyui/backend.ts', 'src/backends/backend.ts']],
      ['src/storage/blobs.ts', ['src/service/public-links.ts']],
      ['src/backends/comfyui/backend.ts', ['src/queue/connection.ts']],
      ['src/service/generation-service.ts', ['src/platforms/discord/render.ts']],
      ['src/ops/metrics.ts', ['src/platforms/discord/index.ts']],
      ['src/platforms/slack/intake.ts', ['src/queue/delivery.ts']],
      ['src/media/video.ts', ['@slack/bolt']],
      ['src/platforms/discord/index.ts', [WIRING]],
      ['src/platforms/index.ts', ['src/main.ts']],
    ]);
    const found = violations(broken);
    expect(found).toEqual([
      'core knows only zod: src/core/status-text.ts imports src/queue/generation-queue.ts',
      'queue knows no platform, service or backend (only their interface): src/queue/generation-worker.ts imports src/backends/comfyui/backend.ts',
      'storage and media know no platform, service, queue or backend: src/storage/blobs.ts imports src/service/public-links.ts',
      'backends know no platform, queue or service: src/backends/comfyui/backend.ts imports src/queue/connection.ts',
      'the service knows no platform and no backend (only their interface): src/service/generation-service.ts imports src/platforms/discord/render.ts',
      'ops (metrics, dashboard) knows no platform, backend or storage (the service is its door): src/ops/metrics.ts imports src/platforms/discord/index.ts',
      'platforms and command files know no backend, queue or storage (the service is their door): src/platforms/slack/intake.ts imports src/queue/delivery.ts',
      'only platforms, command files and the deploy script use a chat library: src/media/video.ts imports @slack/bolt',
      'nothing but entry points imports the wiring: src/platforms/discord/index.ts imports src/pipeline.ts',
      'nothing imports an entry point: src/platforms/index.ts imports src/main.ts',
    ]);
    // One violation per rule: every rule can fail.
    expect(new Set(found.map((line) => line.split(': ')[0]))).toEqual(
      new Set(RULES.map((rule) => rule.name)),
    );
  });

  it('has no import circle', () => {
    expect(circles(graph)).toEqual([]);
  });

  it('reports each import circle once, type-only and dynamic imports included (a made-up graph)', () => {
    const tangled: Graph = new Map([
      // The circle the platforms once had: the starter imports each platform, each imported its types back.
      ['src/platforms/index.ts', ['src/platforms/discord/index.ts', 'src/platforms/slack/index.ts']],
      ['src/platforms/discord/index.ts', ['src/platforms/index.ts', 'discord.js']],
      ['src/platforms/slack/index.ts', ['src/platforms/platform.ts']],
      ['src/platforms/platform.ts', ['src/service/generation-service.ts']],
      // A longer circle, and a file that imports itself.
      ['src/core/a.ts', ['src/core/b.ts']],
      ['src/core/b.ts', ['src/core/c.ts', 'zod']],
      ['src/core/c.ts', ['src/core/a.ts']],
      ['src/media/self.ts', ['src/media/self.ts']],
    ]);
    expect(circles(tangled)).toEqual([
      'import circle: src/core/a.ts → src/core/b.ts → src/core/c.ts → src/core/a.ts',
      'import circle: src/media/self.ts → src/media/self.ts',
      'import circle: src/platforms/discord/index.ts → src/platforms/index.ts → src/platforms/discord/index.ts',
    ]);
  });

  it('lets entry points wire everything', () => {
    const wiring: Graph = new Map([
      ['src/main.ts', [WIRING, 'src/backends/index.ts', 'src/platforms/index.ts']],
      ['src/cli/animate.ts', [WIRING, 'src/queue/bot-status-tracker.ts', 'src/backends/index.ts']],
    ]);
    expect(violations(wiring)).toEqual([]);
  });
});
