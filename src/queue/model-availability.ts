import type { Redis } from 'ioredis';
import type { ModelAvailabilitySink, ModelUnavailability } from '../backends/backend.js';
import { MODEL_PROFILES } from '../core/models.js';
import { MODEL_IDS, type ModelId } from '../core/request.js';
import type { Logger } from '../log.js';

/**
 * Models whose service is gone (an inference.sh app that answers 404, like the retired
 * `infsh/wan2-1-i2v`), as workers found out: worker → this record in Redis → the service, which
 * refuses new requests for such a model at once, naming the models that do work, instead of
 * queueing a job that can only fail.
 *
 * One key per model with an expiry: a worker that still finds the app gone renews it (its backend
 * looks again every few minutes), a worker that finds it back deletes it, and a record nobody renews
 * lapses, so a model that comes back is never refused for long.
 */

export interface UnavailableModel extends ModelUnavailability {
  /** When a worker last found it gone (ms since the epoch). */
  at: number;
}

/** Long enough to outlive a few of the backend's re-checks (every 5 min), short enough to heal. */
export const UNAVAILABLE_TTL_SECONDS = 15 * 60;

const key = (prefix: string, model: ModelId) => `${prefix}:model-unavailable:${model}`;

/** The worker side: what the backend reports, written to Redis. */
export class ModelAvailabilityRecord implements ModelAvailabilitySink {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log?: Logger,
    private readonly ttlSeconds = UNAVAILABLE_TTL_SECONDS,
  ) {}

  async unavailable(model: ModelId, why: ModelUnavailability): Promise<void> {
    const record: UnavailableModel = { service: why.service, reason: why.reason, at: Date.now() };
    const previous = await this.redis.set(
      key(this.prefix, model),
      JSON.stringify(record),
      'EX',
      this.ttlSeconds,
      'GET',
    );
    if (previous === null)
      this.log?.warn({ model, ...why }, 'model unavailable; new requests for it are refused');
  }

  async available(model: ModelId): Promise<void> {
    const removed = await this.redis.del(key(this.prefix, model));
    if (removed > 0) this.log?.info({ model }, 'model available again');
  }
}

/** The models workers found gone, with why; read by the service before it queues a request. */
export async function unavailableModels(
  redis: Redis,
  prefix: string,
): Promise<Map<ModelId, UnavailableModel>> {
  const values = await redis.mget(MODEL_IDS.map((model) => key(prefix, model)));
  const found = new Map<ModelId, UnavailableModel>();
  values.forEach((value, index) => {
    if (value === null) return;
    try {
      found.set(MODEL_IDS[index]!, JSON.parse(value) as UnavailableModel);
    } catch {
      // A record this version cannot read refuses nothing.
    }
  });
  return found;
}

/** "a", "a or b", "a, b or c". */
const orList = (items: readonly string[]): string =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;

/**
 * A model's name as people say it: its generation ("Wan 2.1") when it is the only model of that
 * generation, else its full label ("Wan 2.2 TI2V 5B").
 */
function spokenName(model: ModelId): string {
  const { label } = MODEL_PROFILES[model];
  const generation = label.split(' ').slice(0, 2).join(' ');
  const sameGeneration = MODEL_IDS.filter((id) => MODEL_PROFILES[id].label.startsWith(`${generation} `));
  return sameGeneration.length === 1 ? generation : label;
}

/**
 * The refusal for a request of `model` when workers found it gone, naming the models of `allModels`
 * that are not; undefined when the model may be used.
 */
export function modelRefusal(
  model: ModelId,
  unavailable: ReadonlyMap<ModelId, ModelUnavailability>,
  allModels: readonly ModelId[],
): string | undefined {
  const why = unavailable.get(model);
  if (!why) return undefined;
  const gone = `${spokenName(model)} is not available on ${why.service} any more (${why.reason})`;
  const working = allModels.filter((other) => other !== model && !unavailable.has(other));
  return working.length > 0
    ? `${gone}; use ${orList(working)}`
    : `${gone}, and no other model is available right now`;
}
