import type { NsfwScores } from './nsfw-classifier.js';

/**
 * What counts as a flagged image, as pure functions of the classifier's scores and the settings.
 * `explicit` is porn + hentai (the classifier often splits one explicit image between the two, so
 * either alone would under-count it); `suggestive` is the "sexy" class (swimwear, lingerie, poses).
 */

export type ImageCategory = 'explicit' | 'suggestive';

export interface ImageThresholds {
  /** MODERATION_NSFW_THRESHOLD: flagged when porn + hentai reach it; 1 turns the check off. */
  explicit: number;
  /** MODERATION_SEXY_THRESHOLD: flagged when sexy reaches it; 1 turns the check off. */
  suggestive: number;
}

export type ImageVerdict =
  /** Image moderation is switched off: nothing was checked. */
  | { status: 'off' }
  /** Checked and passed; the scores (the highest over frames) are kept for the audit log. */
  | { status: 'ok'; explicit: number; suggestive: number }
  /** `frame` is the index of the flagged frame when several were checked. */
  | { status: 'flagged'; category: ImageCategory; score: number; frame?: number };

export function imageVerdict(scores: NsfwScores, thresholds: ImageThresholds): ImageVerdict {
  const explicit = scores.porn + scores.hentai;
  if (reaches(explicit, thresholds.explicit))
    return { status: 'flagged', category: 'explicit', score: explicit };
  if (reaches(scores.sexy, thresholds.suggestive)) {
    return { status: 'flagged', category: 'suggestive', score: scores.sexy };
  }
  return { status: 'ok', explicit, suggestive: scores.sexy };
}

/** One verdict for several frames: the first flagged frame, or the highest scores when none is. */
export function framesVerdict(verdicts: readonly ImageVerdict[]): ImageVerdict {
  for (const [frame, verdict] of verdicts.entries()) {
    if (verdict.status === 'flagged') return { ...verdict, frame };
  }
  const checked = verdicts.filter((verdict) => verdict.status === 'ok');
  if (checked.length === 0) return { status: 'off' };
  return {
    status: 'ok',
    explicit: Math.max(...checked.map((verdict) => verdict.explicit)),
    suggestive: Math.max(...checked.map((verdict) => verdict.suggestive)),
  };
}

export interface PostingPlace {
  /** Discord's channel flag "age-restricted" (`nsfw`); false on Slack and in DMs. */
  ageRestricted: boolean;
}

/** MODERATION_ALLOW_IN_NSFW_CHANNELS: whether flagged content may be posted in this place. */
export function allowsFlaggedContent(place: PostingPlace, allowInNsfwChannels: boolean): boolean {
  return allowInNsfwChannels && place.ageRestricted;
}

/** Whether a verdict stops the image (refuse the input, withhold the result) in this place. */
export function isBlocked(verdict: ImageVerdict, place: PostingPlace, allowInNsfwChannels: boolean): boolean {
  return verdict.status === 'flagged' && !allowsFlaggedContent(place, allowInNsfwChannels);
}

function reaches(score: number, threshold: number): boolean {
  return threshold < 1 && score >= threshold;
}
