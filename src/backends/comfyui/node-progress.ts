import { type ComfyGraph, DECODE_CLASSES, isSamplerClass } from './nodes.js';

/**
 * Weighted progress of one ComfyUI prompt, from its node events (shared/specs/comfyui-api.md §7):
 * samplers share 0.80, the VAE decode 0.08, every other node an equal part of 0.12. Monotonic, at
 * most 99 until success.
 */

const SAMPLER_SHARE = 0.8;
const DECODE_SHARE = 0.08;
const OTHER_SHARE = 0.12;

const DETAIL_BY_CLASS: ReadonlyArray<[RegExp, string]> = [
  [/Loader|^ModelSampling|^CFGZeroStar/, 'loading the model'],
  [/^CLIPTextEncode/, 'encoding the prompt'],
  [/^(CLIPVisionEncode|LoadImage)/, 'reading the image'],
  [/^Wan.*ToVideo$/, 'preparing the frames'],
  [/^VAEDecode/, 'decoding frames'],
  [/^ImageScale/, 'upscaling frames'],
  [/^(CreateVideo|Save|VHS_VideoCombine)/, 'encoding the video'],
];

export class NodeProgress {
  private readonly weights = new Map<string, number>();
  private readonly classes = new Map<string, string>();
  private readonly done = new Set<string>();
  private running: string | undefined;
  private fraction = 0;
  private last = 0;
  private step: { value: number; max: number } | undefined;
  /** First sampler step seen in this sampler run, for the ETA. */
  private firstStep: { value: number; at: number; node: string } | undefined;
  private lastStepAt = 0;
  private stepEvents = 0;

  constructor(graph: ComfyGraph) {
    const ids = Object.keys(graph);
    const samplers = ids.filter((id) => isSamplerClass(graph[id]!.class_type));
    const decoders = ids.filter((id) => DECODE_CLASSES.has(graph[id]!.class_type));
    const others = ids.filter((id) => !samplers.includes(id) && !decoders.includes(id));
    const raw = new Map<string, number>();
    for (const id of samplers) raw.set(id, SAMPLER_SHARE / samplers.length);
    for (const id of decoders) raw.set(id, DECODE_SHARE / decoders.length);
    for (const id of others) raw.set(id, OTHER_SHARE / others.length);
    const total = [...raw.values()].reduce((a, b) => a + b, 0) || 1;
    for (const [id, weight] of raw) this.weights.set(id, weight / total);
    for (const id of ids) this.classes.set(id, graph[id]!.class_type);
  }

  /** A resubmitted prompt runs from scratch; the shown percent still never goes back. */
  restart() {
    this.done.clear();
    this.running = undefined;
    this.fraction = 0;
    this.step = undefined;
    this.firstStep = undefined;
    this.stepEvents = 0;
  }

  cached(nodes: readonly string[]) {
    for (const node of nodes) this.done.add(node);
  }

  executing(node: string) {
    if (this.running && this.running !== node) this.done.add(this.running);
    if (this.running !== node) {
      this.running = node;
      this.fraction = 0;
      this.step = undefined;
    }
  }

  finished(node: string) {
    this.done.add(node);
    if (this.running === node) {
      this.fraction = 0;
      this.step = undefined;
    }
  }

  progress(node: string | undefined, value: number, max: number, at: number) {
    const target = node ?? this.running;
    if (!target || !(max > 0)) return;
    if (target !== this.running) this.executing(target);
    this.fraction = Math.max(0, Math.min(1, value / max));
    if (this.isSampler(target)) {
      this.step = { value, max };
      if (!this.firstStep || this.firstStep.node !== target || value < this.firstStep.value) {
        this.firstStep = { value, at, node: target };
        this.stepEvents = 0;
      }
      this.stepEvents += 1;
      this.lastStepAt = at;
    }
  }

  private isSampler(node: string) {
    return isSamplerClass(this.classes.get(node) ?? '');
  }

  /** floor(100 × (done + current)), kept monotonic and at most 99. */
  percent(): number {
    let done = 0;
    for (const node of this.done) done += this.weights.get(node) ?? 0;
    const current =
      this.running && !this.done.has(this.running)
        ? (this.weights.get(this.running) ?? 0) * this.fraction
        : 0;
    const value = Math.min(99, Math.floor(100 * Math.min(1, done + current)));
    this.last = Math.max(this.last, value);
    return this.last;
  }

  detail(): string | undefined {
    if (this.step && this.running && this.isSampler(this.running))
      return `step ${this.step.value}/${this.step.max}`;
    if (!this.running) return undefined;
    const classType = this.classes.get(this.running) ?? '';
    return DETAIL_BY_CLASS.find(([pattern]) => pattern.test(classType))?.[1] ?? 'working';
  }

  /** Whether the sampler has reported at least two steps, so its pace is known. */
  get hasStepPace(): boolean {
    return this.stepEvents >= 2 && this.step !== undefined;
  }

  /**
   * Milliseconds left by sampler pace: (elapsed since the first step / steps done) × steps left,
   * plus a fixed allowance for decoding and encoding. Undefined before the pace is known.
   */
  remainingMs(decodeAllowanceMs: number): number | undefined {
    if (!this.firstStep || !this.step || this.stepEvents < 2) return undefined;
    const stepsDone = this.step.value - this.firstStep.value;
    if (stepsDone <= 0) return undefined;
    const perStep = (this.lastStepAt - this.firstStep.at) / stepsDone;
    return Math.max(0, perStep * (this.step.max - this.step.value)) + decodeAllowanceMs;
  }

  /** When the last step was seen (the ETA is counted from there). */
  get lastStepTime(): number {
    return this.lastStepAt;
  }
}
