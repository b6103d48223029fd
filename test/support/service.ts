import type { Config } from '../../src/config.js';
import type { Pipeline } from '../../src/pipeline.js';
import { GenerationService, type ServiceSettings } from '../../src/service/generation-service.js';

/** The service as main.ts wires it, from a test's pipeline and config. */
export function serviceFor(
  pipeline: Pipeline,
  config: Config,
  extra: Partial<ServiceSettings> = {},
): GenerationService {
  return new GenerationService(pipeline.serviceDeps(), {
    defaultModel: 'wan2.1',
    limits: { maxRunningPerUser: config.MAX_ACTIVE_PER_USER, maxWaitingPerUser: config.MAX_QUEUED_PER_USER },
    maxInputBytes: config.MAX_INPUT_BYTES,
    storageDays: config.STORAGE_TTL_DAYS,
    maxExtensions: config.MAX_EXTENSIONS,
    community: config,
    ...extra,
  });
}
