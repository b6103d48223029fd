import { type BackendCapabilities, DEFAULT_CAPABILITIES } from '../core/capabilities.js';
import { UserFacingError } from '../core/errors.js';
import { MODEL_PROFILES } from '../core/models.js';
import { checkPublicUrl, type HostPolicy } from '../media/public-host.js';
import { type Check, pass, refuse } from './checks.js';

/**
 * What the backend can do with what is asked, checked before anything is stored or queued: an end
 * frame (or a loop, whose end frame is the start image) on a model that takes none, loop and an end
 * frame together, a LoRA where the backend cannot apply one, and a LoRA URL that
 * is not `https://` to a public host (public-host.ts; the worker checks again on download, after
 * DNS and every redirect). Content-stage checks: they need the request, not the person's lock.
 */

/** The parts of a request these checks read, as `Ask` fields. */
export const extrasAsked = (
  settings: { lora_file?: string; loop?: boolean },
  images: { end_frame?: unknown },
) => ({
  ...(settings.lora_file ? { lora: settings.lora_file } : {}),
  ...(images.end_frame ? { endFrame: true } : {}),
  ...(settings.loop ? { loop: true } : {}),
});

const LORA_LABEL = 'the LoRA link';
/** DNS gets this long at request time; a slower answer is refused, not waited for. */
const LOOKUP_TIMEOUT_MS = 5_000;

export function capabilityChecks(
  capabilities: BackendCapabilities = DEFAULT_CAPABILITIES,
  policy: HostPolicy = {},
): Check[] {
  return [
    {
      // Loop ends on the start image: a second end frame would contradict it.
      name: 'loop or an end frame',
      stage: 'content',
      run: (_origin, ask) => (ask?.loop && ask.endFrame ? refuse({ reason: 'loop-with-end-frame' }) : pass()),
    },
    {
      name: 'end frame supported',
      stage: 'content',
      run: (_origin, ask) => {
        if (!(ask?.endFrame || ask?.loop) || !ask.model || capabilities.endFrame(ask.model)) return pass();
        const model = MODEL_PROFILES[ask.model].label;
        const what = ask.endFrame ? 'an end frame' : 'an end frame, which loop needs';
        return refuse({ reason: 'unsupported', what, model, backend: capabilities.backend });
      },
    },
    {
      name: 'LoRA supported',
      stage: 'content',
      run: (_origin, ask) => {
        if (!ask?.lora || !ask.model || capabilities.lora(ask.model)) return pass();
        const model = MODEL_PROFILES[ask.model].label;
        return refuse({
          reason: 'unsupported',
          what: 'a LoRA (lora_file)',
          model,
          backend: capabilities.backend,
        });
      },
    },
    {
      name: 'LoRA link public',
      stage: 'content',
      run: async (_origin, ask) => {
        if (!ask?.lora) return pass();
        let timer: NodeJS.Timeout | undefined;
        const slow = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new UserFacingError(
                  `${LORA_LABEL} could not be checked in time (its host name did not resolve)`,
                ),
              ),
            LOOKUP_TIMEOUT_MS,
          );
        });
        try {
          await Promise.race([checkPublicUrl(ask.lora, policy, LORA_LABEL), slow]);
          return pass();
        } catch (error) {
          if (!(error instanceof UserFacingError)) throw error;
          return refuse({ reason: 'bad-link', problem: error.message });
        } finally {
          clearTimeout(timer);
        }
      },
    },
  ];
}
