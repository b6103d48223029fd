import {
  DataSet,
  englishRecommendedBlacklistMatcherTransformers,
  englishRecommendedTransformers,
  type ParsedPattern,
  parseRawPattern,
  RegExpMatcher,
  type TransformerContainer,
} from 'obscenity';

/**
 * Terms an operator or a server adds, matched with the same obfuscation handling as the built-in
 * list. The syntax is Discord AutoMod's, which server owners already know: `word` matches the whole
 * word, `*word`, `word*` and `*word*` also match it at the end of, the start of or inside a word.
 */

/** A matcher for a list of terms, or undefined when the list has no usable term. */
export function blockedTermsMatcher(terms: readonly string[]): RegExpMatcher | undefined {
  const patterns = terms.map(termPattern).filter((pattern): pattern is ParsedPattern => Boolean(pattern));
  if (patterns.length === 0) return undefined;
  const dataset = new DataSet<undefined>();
  for (const pattern of patterns) dataset.addPhrase((phrase) => phrase.addPattern(pattern));
  return new RegExpMatcher({ ...dataset.build(), ...englishRecommendedTransformers });
}

export function termPattern(term: string): ParsedPattern | undefined {
  const trimmed = term.trim();
  const insideStart = trimmed.startsWith('*');
  const insideEnd = trimmed.endsWith('*');
  // The input is lower-cased, de-leeted and de-duplicated before matching, so the term must be too
  // ("apple" would otherwise never match, since its "pp" is read as "p").
  const canonical = canonicalise(trimmed.replace(/^\*+|\*+$/g, '').replace(/\s+/g, ' '));
  if (canonical.trim() === '') return undefined;
  const escaped = canonical.replace(/[[\]?|\\]/g, '\\$&');
  return parseRawPattern(`${insideStart ? '' : '|'}${escaped}${insideEnd ? '' : '|'}`);
}

function canonicalise(term: string): string {
  const transformers = englishRecommendedBlacklistMatcherTransformers.map(instantiate);
  let out = '';
  for (const char of term.normalize('NFKD').replace(/\p{M}/gu, '')) {
    let code: number | undefined = char.codePointAt(0);
    for (const transform of transformers) {
      if (code === undefined) break;
      code = transform(code);
    }
    if (code !== undefined) out += String.fromCodePoint(code);
  }
  return out;
}

function instantiate(container: TransformerContainer): (char: number) => number | undefined {
  if ('factory' in container) {
    const stateful = container.factory();
    return (char) => stateful.transform(char);
  }
  return container.transform;
}
