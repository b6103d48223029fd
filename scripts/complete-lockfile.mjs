#!/usr/bin/env node
/**
 * `npm run lock:complete`, after any `npm install` that changed package-lock.json.
 *
 * The npm registry this project is built against lacks some platform binaries (e.g.
 * @biomejs/cli-darwin-arm64), so npm leaves them out of the lockfile, and `npm ci` then refuses the
 * lockfile as out of sync. This adds each missing optional platform package as a lock entry with
 * its os/cpu, so `npm ci` accepts the lockfile and, on this platform, simply skips them.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

const OS = ['android', 'darwin', 'linux', 'win32', 'freebsd'];
const CPU = ['arm64', 'x64', 'arm', 'ia32'];

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((part) => OS.includes(part));
  const cpu = parts.find((part) => CPU.includes(part));
  if (!os || !cpu) return undefined;
  return { os: [os], cpu: [cpu], ...(parts.includes('musl') ? { libc: ['musl'] } : {}) };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  if (!path.startsWith('node_modules/') || !entry.optionalDependencies) continue;
  const parentDir = path.slice(0, path.lastIndexOf('node_modules/'));
  for (const [name, version] of Object.entries(entry.optionalDependencies)) {
    const candidates = [`${path}/node_modules/${name}`, `${parentDir}node_modules/${name}`];
    if (candidates.some((candidate) => packages[candidate])) continue;
    const platform = platformOf(name);
    if (!platform) continue;
    packages[`${parentDir}node_modules/${name}`] = {
      version: version.replace(/^[\^~]/, ''),
      dev: entry.dev || undefined,
      optional: true,
      ...platform,
    };
    added += 1;
  }
}

const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
lock.packages = sorted;
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`package-lock.json: added ${added} platform package entr${added === 1 ? 'y' : 'ies'}\n`);
