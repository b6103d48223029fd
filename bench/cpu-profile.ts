/**
 * Reads a `node --cpu-prof` profile and sums where the time of one window went, by function (self
 * and inclusive), for the benchmarks' BENCH_CPU_PROF. V8 stamps samples with the monotonic clock
 * (as `process.hrtime`), so a wall-clock window is converted through `wallToMonotonicUs`.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A wall-clock time (ms, `Date.now()`) on the monotonic clock V8's profiles use (µs). */
export function wallToMonotonicUs(wallMs: number): number {
  const nowUs = Number(process.hrtime.bigint() / 1000n);
  return nowUs - (Date.now() - wallMs) * 1000;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${relative(process.cwd(), url.replace(/^file:\/\//, ''))}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
}

/**
 * Sums the newest profile in `dir` over [from, to] (wall-clock ms), writes the table to
 * `dir/ack-window.txt` and returns its first lines.
 */
export async function summariseProfile(
  dir: string,
  window: { from: number; to: number },
  output = 'ack-window.txt',
): Promise<string> {
  // The main thread's (thread 0; tsx's loader runs in another thread and writes its own).
  const files = (await readdir(dir)).filter((name) => /\.0\.\d+\.cpuprofile$/.test(name)).sort();
  const file = files.at(-1);
  if (!file) return `no .cpuprofile in ${dir}`;
  const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
  const from = wallToMonotonicUs(window.from);
  const to = wallToMonotonicUs(window.to);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let at = profile.startTime;
  let busyUs = 0;
  let idleUs = 0;
  for (let index = 0; index < profile.samples.length; index += 1) {
    const delta = profile.timeDeltas[index] ?? 0;
    at += delta;
    if (at < from || at > to) continue;
    const node = byId.get(profile.samples[index]!)!;
    const name = label(node);
    if (name === '(idle)') {
      idleUs += delta;
      continue;
    }
    busyUs += delta;
    self.set(name, (self.get(name) ?? 0) + delta);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const key = label(byId.get(id)!);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + delta);
    }
  }
  const top = (table: Map<string, number>, count: number) =>
    [...table.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, us]) => `${(us / 1000).toFixed(1).padStart(8)} ms  ${name}`);
  const lines = [
    `bot CPU profile ${file}, ${((to - from) / 1000).toFixed(0)} ms window: busy ${(busyUs / 1000).toFixed(0)} ms, idle ${(idleUs / 1000).toFixed(0)} ms`,
    'self:',
    ...top(self, 40),
    'inclusive:',
    ...top(inclusive, 80),
  ];
  await writeFile(join(dir, output), `${lines.join('\n')}\n`);
  await writeFile(join(dir, `${output}.json`), JSON.stringify({ file, fromUs: from, toUs: to }));
  return `${lines.slice(0, 16).join('\n')}\n(all in ${join(dir, output)})`;
}
