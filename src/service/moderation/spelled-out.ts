/**
 * Obscenity's recommended transformers undo leetspeak, look-alike letters and repeated letters, but
 * deliberately not punctuation between letters (skipping it everywhere turns "the pen is" into a
 * match). This undoes the two spellings people actually use to slip a word past a filter, and only
 * those: punctuation inside a word ("f.u.c.k", "fu-ck") and letters spaced out ("f u c k").
 */

/** Characters obscenity reads as letters in leetspeak ("$h!t", "@ss"), so they are kept inside words. */
const LETTER_LIKE = /[\p{L}\p{N}@$!|]/u;
const NOT_LETTER_LIKE = /[^\p{L}\p{N}@$!|]/gu;
/** Shorter runs of single letters are ordinary text ("a b testing", "plan B"). */
const MIN_SPELLED_OUT_LETTERS = 3;

/** The text as written, plus (when it differs) the text with spelled-out words written whole. */
export function readableForms(text: string): string[] {
  const words = text
    .split(/\s+/)
    .map((word) => word.replace(NOT_LETTER_LIKE, ''))
    .filter(Boolean);
  const joined: string[] = [];
  let letters: string[] = [];
  const flushLetters = () => {
    if (letters.length >= MIN_SPELLED_OUT_LETTERS) joined.push(letters.join(''));
    else joined.push(...letters);
    letters = [];
  };
  for (const word of words) {
    if ([...word].length === 1 && LETTER_LIKE.test(word)) {
      letters.push(word);
      continue;
    }
    flushLetters();
    joined.push(word);
  }
  flushLetters();
  const readable = joined.join(' ');
  return readable === text ? [text] : [text, readable];
}
