import type { StoredImage } from '../core/request.js';
import type { Logger } from '../log.js';
import type { Community } from './community.js';
import type { ImageSource, InputImages } from './input-images.js';
import { type ImageVerdict, isBlocked } from './moderation/index.js';
import { RefusedError } from './refusals.js';
import type { ServerSettingValues } from './server-settings.js';

export type ImageLabel = 'image' | 'end frame';

/**
 * An input image from download to storage, with the classifier in between: validated first (so the
 * classifier only ever sees a real, bounded image), checked under the server's settings, and stored
 * only when it passes. The service runs this after the platform's acknowledgement, so the
 * classifier never delays an ack. A classifier that cannot run refuses the request: nothing is
 * accepted unchecked.
 */
export class ImageScreening {
  /** The verdict on each image screened, for the audit record (the last one, the end frame if any). */
  verdict?: ImageVerdict;

  constructor(
    private readonly community: Community,
    private readonly images: InputImages,
    private readonly settings: ServerSettingValues,
    private readonly ageRestricted: boolean,
    private readonly log: Logger,
  ) {}

  async store(source: ImageSource, label: ImageLabel): Promise<StoredImage> {
    const image = await this.images.load(source, label);
    let verdict: ImageVerdict;
    try {
      verdict = await this.community.images(this.settings).checkImage(image.bytes);
    } catch (error) {
      this.log.error({ err: error }, 'the image classifier could not run; refusing the request');
      throw new RefusedError({ reason: 'moderation-unavailable' });
    }
    if (this.verdict?.status !== 'flagged') this.verdict = verdict;
    const allowIn = this.settings.moderation_allow_in_nsfw_channels;
    if (verdict.status === 'flagged' && isBlocked(verdict, { ageRestricted: this.ageRestricted }, allowIn)) {
      throw new RefusedError({
        reason: 'image-flagged',
        image: label,
        category: verdict.category,
        allowedInAgeRestrictedChannels: allowIn,
      });
    }
    return this.images.save(image);
  }
}
