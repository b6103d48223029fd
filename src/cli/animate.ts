/**
 * `npm run animate -- --image ./cat.png --prompt "the cat yawns" [--out out.mp4] [--model …] [--<setting> value]`
 * One job through the same queue and worker code the bots use, in this process, with a progress bar.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { backendCapabilities, createBackend, defaultModel } from '../backends/index.js';
import { ConfigError, loadConfig } from '../config.js';
import type { ExtensionOf, GenerationJobData, VideoResult } from '../core/job.js';
import { MODEL_PROFILES } from '../core/models.js';
import {
  FIELD_INFO,
  finaliseRequest,
  type GenerationRequest,
  parseSettings,
  type StoredImage,
  variantSeeds,
} from '../core/request.js';
import { progressBar, type StatusView } from '../core/status-text.js';
import { isEntryPoint } from '../entry-point.js';
import { createLogger } from '../log.js';
import { validateImage } from '../media/image.js';
import { normaliseForChat } from '../media/video.js';
import { Pipeline } from '../pipeline.js';
import { BotStatusTracker } from '../queue/bot-status-tracker.js';
import { GENERATE_QUEUE } from '../queue/connection.js';
import { capabilityChecks, extrasAsked } from '../service/capability-checks.js';
import type { Ask, Origin } from '../service/checks.js';
import { refusalText } from '../service/refusals.js';
import { deleteKeysUnder } from '../storage/keys.js';
import { parseFlags } from './args.js';
import { lastFrameOf, storeOriginal } from './extend-input.js';

/** The CLI's user, for the checks that take an origin (the capability checks never read it). */
const CLI_ORIGIN: Origin = {
  requester: { platform: 'cli', userId: 'cli' },
  place: { channelId: 'cli', isDirectMessage: true },
  access: { directMessages: 'allow', servers: [], channels: [], roles: [] },
};

const EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 130 } as const;

function usage(): string {
  const settings = FIELD_INFO.filter((field) => field.name !== 'prompt')
    .map((field) => {
      const values = field.choices
        ? field.choices.map((choice) => (choice === '' ? '""' : String(choice))).join('|')
        : field.kind === 'boolean'
          ? 'true|false'
          : field.kind === 'text' || field.kind === 'url'
            ? field.kind
            : field.min !== undefined
              ? `${field.min}..${field.max}`
              : field.kind;
      const fallback = field.defaultValue === null ? '' : ` (default ${JSON.stringify(field.defaultValue)})`;
      return `  --${field.name.padEnd(26)} ${values}${fallback}\n      ${field.description}`;
    })
    .join('\n');
  return `Usage: npm run animate -- --image <file> --prompt <text> [options]

  --image <file>                PNG, JPEG or WebP (GIF/AVIF/TIFF are converted)
  --extend <video.mp4>          continue a video instead: its last frame is the start image, and
                                the output is the video followed by the continuation
  --end-image <file>            optional last frame
  --prompt <text>               what should happen (1-1500 characters)
  --out <file.mp4>              where to write the video (default kinema-<seed>.mp4; with
                                --variants N, <file>-1.mp4 … <file>-N.mp4)
  --resolution 480p|720p        friendlier spelling of --size
  --seconds <n>                 length; sets --num_frames at the chosen fps
${settings}

Ctrl-C cancels the job (and its remote task) and exits with code 130.`;
}

const SPECIAL = new Set([
  'image',
  'extend',
  'end-image',
  'end_image',
  'end_frame',
  'end-frame',
  'out',
  'help',
]);

async function loadImage(path: string, maxBytes: number) {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new Error(`--image: no file at ${path}`);
  if (info.size > maxBytes)
    throw new Error(`--image: ${path} is larger than ${Math.round(maxBytes / 1048576)} MiB`);
  return validateImage(await readFile(path), { filename: basename(path), maxBytes });
}

/** The status line: the same platform-neutral status text the chat platforms show, on one line. */
export function progressLine(view: StatusView, now = Date.now()): string {
  if (view.percent === undefined) return view.headline;
  const eta =
    view.etaUnix && view.etaUnix * 1000 > now
      ? ` · about ${Math.ceil((view.etaUnix * 1000 - now) / 1000)} s left`
      : '';
  return `${progressBar(view.percent, 24)} ${String(view.percent).padStart(3)}% ${view.headline}${eta}`;
}

/** Removes the private queue and the files it stored, once nothing uses them; the video is on disk. */
async function deleteKeys(redisUrl: string, prefix: string) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    await deleteKeysUnder(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

export async function main(argv: string[]): Promise<number> {
  const { flags, errors } = parseFlags(argv);
  if (flags.has('help')) {
    process.stdout.write(`${usage()}\n`);
    return EXIT.ok;
  }
  const raw: Record<string, string> = {};
  for (const [key, value] of flags) if (!SPECIAL.has(key)) raw[key] = value;
  const imagePath = flags.get('image');
  const extendPath = flags.get('extend');
  if (!imagePath && !extendPath) errors.push('--image is required: the still image to animate');
  if (imagePath && extendPath) errors.push('--image and --extend cannot be used together');
  if (!flags.has('prompt')) errors.push('--prompt is required: what should happen in the video');
  const parsed = parseSettings(raw);
  if (!parsed.ok) errors.push(...parsed.errors.map((error) => `--${error}`));
  if (errors.length > 0 || !parsed.ok || !(imagePath ?? extendPath)) {
    process.stderr.write(
      `${errors.map((error) => `error: ${error}`).join('\n')}\n\nRun with --help for every option.\n`,
    );
    return EXIT.usage;
  }

  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn', 'kinema-cli');
  let images: { start: Awaited<ReturnType<typeof loadImage>>; end?: Awaited<ReturnType<typeof loadImage>> };
  try {
    const endPath =
      flags.get('end-image') ?? flags.get('end_image') ?? flags.get('end_frame') ?? flags.get('end-frame');
    images = {
      start: extendPath
        ? await lastFrameOf(extendPath, config.MAX_INPUT_BYTES)
        : await loadImage(imagePath!, config.MAX_INPUT_BYTES),
      end: endPath ? await loadImage(endPath, config.MAX_INPUT_BYTES) : undefined,
    };
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return EXIT.usage;
  }

  // The service's own capability and LoRA-link checks: nothing unsupported or private is sent.
  const model = parsed.value.model ?? defaultModel(config);
  const ask = { model, ...extrasAsked(parsed.value, { end_frame: images.end }) } as Ask;
  for (const check of capabilityChecks(backendCapabilities(config), {
    allowHosts: config.FETCH_ALLOW_HOSTS,
  })) {
    const verdict = await check.run(CLI_ORIGIN, ask);
    if (!verdict.ok) {
      process.stderr.write(`error: ${refusalText(verdict.refusal)}\n`);
      return EXIT.usage;
    }
  }

  // A private queue: a CLI run against a live Redis must never take (and then drop) the bot's jobs.
  const prefix = `${config.KINEMA_PREFIX}-cli-${randomUUID().slice(0, 8)}`;
  const pipeline = new Pipeline({
    redisUrl: config.REDIS_URL,
    prefix,
    storageTtlSeconds: config.STORAGE_TTL_DAYS * 86_400,
    attempts: config.JOB_ATTEMPTS,
    log,
  });
  const backend = await createBackend(config, { redis: pipeline.connection, log });
  const events = new QueueEvents(GENERATE_QUEUE, {
    connection: pipeline.connection.duplicate(),
    prefix,
  });
  const interactive = process.stderr.isTTY;
  let lastLine = '';
  const show = (line: string) => {
    if (line === lastLine) return;
    lastLine = line;
    process.stderr.write(interactive ? `\r\x1b[2K${line}` : `${line}\n`);
  };

  // `--extend`: the video the worker joins each continuation to.
  let extension: ExtensionOf | undefined;
  try {
    const input_image: StoredImage = await pipeline.inputs.save(images.start);
    const end_frame = images.end ? await pipeline.inputs.save(images.end) : undefined;
    const first = finaliseRequest(parsed.value, { input_image, end_frame }, defaultModel(config));
    if (extendPath) extension = await storeOriginal(pipeline.blobs, extendPath);
    await events.waitUntilReady();
    await pipeline.startWorker(backend, normaliseForChat, {
      concurrency: 1,
      resubmitAmbiguous: config.RESUBMIT_AMBIGUOUS,
      shutdownGraceMs: 0,
    });
    // `--variants N`: N videos one after another, seed, seed+1… (or distinct random seeds).
    const count = parsed.value.variants ?? 1;
    const seeds = count > 1 ? variantSeeds(parsed.value.seed, count) : [first.seed];
    for (const [i, seed] of seeds.entries()) {
      const out = flags.get('out');
      const numbered = out && count > 1 ? out.replace(/(\.mp4)?$/i, `-${i + 1}.mp4`) : out;
      const code = await runOne({ ...first, seed }, numbered);
      if (code !== EXIT.ok) return code;
    }
    return EXIT.ok;
  } finally {
    await events.close().catch(() => undefined);
    await pipeline.close().catch(() => undefined);
    await deleteKeys(config.REDIS_URL, prefix).catch(() => undefined);
    await backend.close?.().catch(() => undefined);
  }

  /** One job: enqueued, followed on one line, written to disk. */
  async function runOne(request: GenerationRequest, outFlag: string | undefined): Promise<number> {
    const jobId = `cli-${randomUUID()}`;
    const data: GenerationJobData = {
      request,
      requester: { platform: 'cli', userId: process.env.USER ?? 'cli' },
      reportTo: { platform: 'cli' },
      createdAt: Date.now(),
      notes: backend.describeIgnored(request),
      ...(extension ? { extension } : {}),
    };
    for (const note of data.notes) process.stderr.write(`note: ${note}\n`);
    await pipeline.queue.enqueue(jobId, data);
    const job = (await pipeline.queue.queue.getJob(jobId))!;

    let cancelling = false;
    const onSigint = () => {
      if (cancelling) return;
      cancelling = true;
      show('cancelling…');
      void pipeline.cancel({ jobId, by: 'Ctrl-C' });
    };
    process.on('SIGINT', onSigint);
    // The CLI plays the bot for its one job: the worker's progress reaches this line through the
    // same tracker and status text as a chat status message.
    const tracker = new BotStatusTracker(
      pipeline.connection,
      pipeline.queue,
      {
        show: async (_snapshot, view) => {
          if (!cancelling) show(progressLine(view));
          return true;
        },
      },
      log,
      { prefix, platform: 'cli', minIntervalMs: 250 },
    );
    await tracker.start();
    await tracker.track(jobId);

    let result: VideoResult;
    try {
      result = (await job.waitUntilFinished(events)) as VideoResult;
    } catch (error) {
      await tracker.close();
      if (interactive) process.stderr.write('\n');
      const message = (error as Error).message;
      if (cancelling || /^cancelled/.test(message)) {
        process.stderr.write(
          `cancelled (task ${job.data.remote?.taskId ?? (await pipeline.queue.queue.getJob(jobId))?.data.remote?.taskId ?? 'not started'})\n`,
        );
        return EXIT.cancelled;
      }
      process.stderr.write(`error: ${message}\n`);
      return EXIT.failed;
    } finally {
      process.off('SIGINT', onSigint);
      await tracker.close();
    }
    if (interactive) process.stderr.write('\n');
    const out = outFlag ?? `kinema-${request.seed}.mp4`;
    const stored = await pipeline.blobs.open(result.videoKey);
    if (!stored) throw new Error('the finished video expired before it could be written');
    await streamPipeline(stored.stream, createWriteStream(out));
    process.stdout.write(
      [
        `wrote ${out} (${(result.bytes / 1048576).toFixed(2)} MiB${result.durationSeconds ? `, ${result.durationSeconds.toFixed(1)} s` : ''})`,
        `seed: ${result.seed}`,
        `model: ${result.model} (${MODEL_PROFILES[request.model].label})`,
        `task: ${result.taskId ?? 'unknown'}`,
        ...result.notes.map((note) => `note: ${note}`),
      ].join('\n') + '\n',
    );
    return EXIT.ok;
  }
}

if (isEntryPoint(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`error: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
