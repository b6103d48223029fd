import { DataSet, englishDataset, englishRecommendedTransformers, RegExpMatcher } from 'obscenity';
import { blockedTermsMatcher } from './blocked-terms.js';
import { readableForms } from './spelled-out.js';

/** Which list a prompt hit: the built-in profanity/sexual-content list, the operator's, or the server's. */
export type TextCategory = 'offensive' | 'operator' | 'server';
export type TextField = 'prompt' | 'negative_prompt';

/**
 * `off` when text moderation is switched off (nothing was checked). Never carries the matched term:
 * refusals and the audit log must not repeat it.
 */
export type TextVerdict =
  | { status: 'off' }
  | { status: 'ok' }
  | { status: 'flagged'; field: TextField; category: TextCategory };

export interface TextToCheck {
  prompt: string;
  negativePrompt?: string | undefined;
}

export interface TextModerationSettings {
  enabled: boolean;
  /** MODERATION_BLOCKLIST. */
  blocklist: readonly string[];
}

/**
 * Ordinary words the English preset's substring patterns catch (its own whitelist covers many
 * more, e.g. "Scunthorpe", "assassin", "cocktail").
 */
const ORDINARY_WORDS = ['cockpit', 'shiitake', 'rapeseed', 'penistone', 'moby dick'];

/** Matchers for per-server lists, kept by list so a busy bot does not rebuild one per request. */
const SERVER_MATCHERS_KEPT = 200;

/**
 * Checks a prompt and its negative prompt before anything is queued. Cheap (regular expressions
 * over a few hundred characters), so it may run on the request path.
 */
export class TextModerator {
  private readonly operator: RegExpMatcher | undefined;
  private readonly serverMatchers = new Map<string, RegExpMatcher | undefined>();

  constructor(private readonly settings: TextModerationSettings) {
    this.operator = blockedTermsMatcher(settings.blocklist);
  }

  /** `serverTerms` are the server's own additions (per-server settings). */
  check(text: TextToCheck, serverTerms: readonly string[] = []): TextVerdict {
    if (!this.settings.enabled) return { status: 'off' };
    const lists: Array<[TextCategory, RegExpMatcher | undefined]> = [
      ['offensive', builtInMatcher()],
      ['operator', this.operator],
      ['server', this.serverMatcher(serverTerms)],
    ];
    const fields: Array<[TextField, string | undefined]> = [
      ['prompt', text.prompt],
      ['negative_prompt', text.negativePrompt],
    ];
    for (const [field, value] of fields) {
      if (!value) continue;
      const forms = readableForms(value);
      for (const [category, matcher] of lists) {
        if (matcher && forms.some((form) => matcher.hasMatch(form)))
          return { status: 'flagged', field, category };
      }
    }
    return { status: 'ok' };
  }

  private serverMatcher(terms: readonly string[]): RegExpMatcher | undefined {
    if (terms.length === 0) return undefined;
    const key = [...terms].sort().join('\u0000');
    if (this.serverMatchers.has(key)) return this.serverMatchers.get(key);
    const matcher = blockedTermsMatcher(terms);
    if (this.serverMatchers.size >= SERVER_MATCHERS_KEPT) {
      const oldest = this.serverMatchers.keys().next().value;
      if (oldest !== undefined) this.serverMatchers.delete(oldest);
    }
    this.serverMatchers.set(key, matcher);
    return matcher;
  }
}

/** Built once per process: compiling the preset's patterns takes a few milliseconds. */
let builtIn: RegExpMatcher | undefined;

function builtInMatcher(): RegExpMatcher {
  builtIn ??= new RegExpMatcher({
    ...new DataSet<{ originalWord: string }>()
      .addAll(englishDataset)
      .addPhrase((phrase) => {
        for (const word of ORDINARY_WORDS) phrase.addWhitelistedTerm(word);
        return phrase;
      })
      .build(),
    ...englishRecommendedTransformers,
  });
  return builtIn;
}
