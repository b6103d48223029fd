import { describe, expect, it } from 'vitest';
import { textRefusal } from '../../../src/service/moderation/messages.js';
import { readableForms } from '../../../src/service/moderation/spelled-out.js';
import { TextModerator, type TextVerdict } from '../../../src/service/moderation/text-moderator.js';

const moderator = new TextModerator({
  enabled: true,
  blocklist: ['glorbnak', 'zint*', '*vorp*', 'big widget'],
});
const check = (prompt: string, serverTerms: string[] = []) => moderator.check({ prompt }, serverTerms);

describe('text moderation', () => {
  it('passes ordinary prompts, including words the naive filters trip on', () => {
    for (const prompt of [
      'a cat passes by',
      'Scunthorpe at dusk',
      "the assassin's creed banner waves",
      'a cocktail party on a terrace, slow pan',
      'the cockpit of a plane at night',
      'shiitake mushrooms sizzle in a pan',
      'cumulus clouds drift over Essex',
      'a grape rolls off the table',
      'analysis of a painting, camera zooms in',
      'U.S.A. flag waving, R.I.P. written on a stone, plan B',
      'a t-shirt on a washing line',
    ]) {
      expect(check(prompt), prompt).toEqual({ status: 'ok' });
    }
  });

  it('refuses profanity however it is disguised', () => {
    for (const prompt of [
      'fuck this',
      'f.u.c.k',
      'f u c k off',
      'F-U-C-K',
      'fuuuuck',
      'fvck',
      'sh1t',
      '$h!t',
      'fück',
    ]) {
      expect(check(prompt), prompt).toEqual({ status: 'flagged', field: 'prompt', category: 'offensive' });
    }
  });

  it('refuses sexual content from the built-in list', () => {
    expect(check('p0rn scene')).toEqual({ status: 'flagged', field: 'prompt', category: 'offensive' });
    expect(check('an orgy')).toMatchObject({ status: 'flagged', category: 'offensive' });
  });

  it('checks the negative prompt and names it, so the requester knows which field to fix', () => {
    const verdict = moderator.check({ prompt: 'a calm lake', negativePrompt: 'blurry, sh1t quality' });
    expect(verdict).toEqual({ status: 'flagged', field: 'negative_prompt', category: 'offensive' });
  });

  it("refuses the operator's terms with the same obfuscation handling, as whole words unless a * says otherwise", () => {
    for (const prompt of [
      'a glorbnak dances',
      'GLORBNAK',
      'g.l.o.r.b.n.a.k',
      'gl0rbn4k',
      'glorrrbnak',
      'a big  widget',
    ]) {
      expect(check(prompt), prompt).toEqual({ status: 'flagged', field: 'prompt', category: 'operator' });
    }
    expect(check('glorbnaks everywhere')).toEqual({ status: 'ok' });
    expect(check('zinteresting')).toMatchObject({ status: 'flagged', category: 'operator' });
    expect(check('a mezint')).toEqual({ status: 'ok' });
    expect(check('supervorpish')).toMatchObject({ status: 'flagged', category: 'operator' });
  });

  it('matches terms with doubled letters and accents, which the input loses before matching', () => {
    const withDoubles = new TextModerator({ enabled: true, blocklist: ['kettle', 'café'] });
    expect(withDoubles.check({ prompt: 'a kettle boils' })).toMatchObject({ status: 'flagged' });
    expect(withDoubles.check({ prompt: 'a cafe at night' })).toMatchObject({ status: 'flagged' });
    expect(withDoubles.check({ prompt: 'a café at night' })).toMatchObject({ status: 'flagged' });
  });

  it("refuses a server's own terms as the server's, and only where they are passed", () => {
    expect(check('a quibbet hops', ['quibbet'])).toEqual({
      status: 'flagged',
      field: 'prompt',
      category: 'server',
    });
    expect(check('a quibbet hops')).toEqual({ status: 'ok' });
    expect(check('a quibbet hops', ['other', 'QUIBBET'])).toMatchObject({ category: 'server' });
  });

  it('says which list refused the text without ever repeating the term', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['f.u.c.k', [], /does not allow \(profanity or sexual content\)/],
      ['glorbnak', [], /this bot's operator does not allow/],
      ['quibbet', ['quibbet'], /this server does not allow/],
    ];
    for (const [prompt, serverTerms, reason] of cases) {
      const verdict = check(prompt, serverTerms) as TextVerdict & { status: 'flagged' };
      const text = textRefusal(verdict);
      expect(text).toMatch(reason);
      expect(text).toMatch(/^Your prompt contains a word .*; nothing was queued/);
      for (const form of readableForms(prompt)) expect(text.toLowerCase()).not.toContain(form.toLowerCase());
      expect(text.toLowerCase()).not.toMatch(/fuck|glorbnak|quibbet/);
    }
    const onSlack = textRefusal(check('quibbet', ['quibbet']) as TextVerdict & { status: 'flagged' }, {
      place: 'workspace',
    });
    expect(onSlack).toMatch(/this workspace does not allow/);
  });

  it('checks nothing when switched off', () => {
    const off = new TextModerator({ enabled: false, blocklist: ['glorbnak'] });
    expect(off.check({ prompt: 'fuck glorbnak' }, ['x'])).toEqual({ status: 'off' });
  });
});

describe('spelled-out words', () => {
  it('writes punctuated and spaced-out words whole, and leaves short runs and ordinary text alone', () => {
    expect(readableForms('f.u.c.k it')).toEqual(['f.u.c.k it', 'fuck it']);
    expect(readableForms('s h i t happens')).toEqual(['s h i t happens', 'shit happens']);
    expect(readableForms('plan B at a b')).toEqual(['plan B at a b']);
    expect(readableForms('a cat passes by')).toEqual(['a cat passes by']);
  });
});
