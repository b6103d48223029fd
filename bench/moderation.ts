/**
 * `npx tsx bench/moderation.ts [rounds=10]`
 * What moderation adds to one job, with the real classifier: loading it (once per process), the
 * input image, three frames of a result, and the text check. Meanwhile a probe stands in for
 * Discord interactions arriving at any moment: every 5 ms it notes how late the event loop lets it
 * run, which is how long an ack would wait behind the classifier (Discord allows 3 s). Prints
 * figures; asserts nothing. The machine's load average is printed too, since figures scale with it.
 */
import { loadavg } from 'node:os';
import { type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { ImageModerator } from '../src/service/moderation/image-moderator.js';
import { TextModerator } from '../src/service/moderation/text-moderator.js';
import { gradientPng, shapesPng } from '../test/support/synthetic-images.js';

const rounds = Number(process.argv[2] ?? 10);
const PROBE_MS = 5;

/** How late timers fire while `work` runs: the longest wait an incoming event would have. */
async function underProbe<T>(
  work: () => Promise<T>,
): Promise<{ result: T; ms: number; worstAckWaitMs: number; loop: IntervalHistogram }> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let worstAckWaitMs = 0;
  let expected = performance.now() + PROBE_MS;
  const probe = setInterval(() => {
    const now = performance.now();
    worstAckWaitMs = Math.max(worstAckWaitMs, now - expected);
    expected = now + PROBE_MS;
  }, PROBE_MS);
  loop.enable();
  const start = performance.now();
  const result = await work();
  const ms = performance.now() - start;
  // One more turn, so a block at the very end is seen by the probe too.
  await new Promise((resolve) => setTimeout(resolve, PROBE_MS * 2));
  loop.disable();
  clearInterval(probe);
  return { result, ms, worstAckWaitMs, loop };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const ms = (value: number) => `${value.toFixed(0)} ms`;
const loopMs = (loop: IntervalHistogram, percentile: number) => ms(loop.percentile(percentile) / 1e6);

const images = new ImageModerator({ enabled: true, thresholds: { explicit: 0.7, suggestive: 0.9 } });
// An input as stored (normalised to at most 2048 px) and three frames of a 480p result.
const input = await sharp(await gradientPng(1920, 1080))
  .jpeg({ quality: 90 })
  .toBuffer();
const frames = await Promise.all(
  [gradientPng(832, 480), shapesPng(832, 480), gradientPng(832, 480)].map(async (png) => ({
    width: 224,
    height: 224,
    // As media's sampleFrames gives them: raw RGB, scaled to the classifier's input.
    rgb: await sharp(await png)
      .removeAlpha()
      .resize(224, 224, { fit: 'fill' })
      .raw()
      .toBuffer(),
  })),
);

console.log(
  `load average: ${loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')} (cores matter: figures scale with it)`,
);

const cold = await underProbe(() => images.warm());
console.log(
  `classifier load (once per process, in its own thread; tfjs, ${cold.result?.backend} backend, MobileNetV2, ` +
    `first inference): ${ms(cold.ms)}; meanwhile an ack waited at most ${ms(cold.worstAckWaitMs)}`,
);

const inputTimes: number[] = [];
const frameTimes: number[] = [];
const busy = await underProbe(async () => {
  for (let round = 0; round < rounds; round += 1) {
    let start = performance.now();
    await images.checkImage(input);
    inputTimes.push(performance.now() - start);
    start = performance.now();
    await images.checkFrames(frames);
    frameTimes.push(performance.now() - start);
  }
});
console.log(
  `input image (1920×1080 JPEG): median ${ms(median(inputTimes))}, slowest ${ms(Math.max(...inputTimes))}`,
);
console.log(
  `three frames (224×224 RGB, as sampled): median ${ms(median(frameTimes))}, slowest ${ms(Math.max(...frameTimes))}`,
);
console.log(
  `while classifying (${rounds} inputs + ${rounds * 3} frames): an ack waited at most ${ms(busy.worstAckWaitMs)}; ` +
    `event-loop delay p50 ${loopMs(busy.loop, 50)}, p99 ${loopMs(busy.loop, 99)}, max ${ms(busy.loop.max / 1e6)}`,
);

const text = new TextModerator({ enabled: true, blocklist: ['glorbnak', '*vorp*'] });
const prompt = 'a lighthouse on a cliff at dusk, waves crash, slow dolly in, '.repeat(25).slice(0, 1500);
text.check({ prompt }); // builds the built-in matcher once
const textStart = performance.now();
for (let round = 0; round < 100; round += 1) text.check({ prompt, negativePrompt: prompt }, ['quibbet']);
console.log(
  `text check (1500-character prompt and negative prompt): ${((performance.now() - textStart) / 100).toFixed(2)} ms`,
);

const perJob = median(inputTimes) + median(frameTimes);
console.log(
  `moderation adds per job: about ${ms(perJob)} of classifier time (input + three frames), after a one-time load`,
);
process.exit(0);
