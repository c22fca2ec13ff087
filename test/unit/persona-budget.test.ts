/**
 * The screenplay prompt's persona budget (src/domain/generation/prompt.ts), as the README puts it:
 * when the persona contexts together exceed STORYLOOM_SCREENPLAY_PERSONA_BUDGET_TOKENS, each is
 * trimmed to its share — the smaller ones keep everything and leave the rest to the larger ones.
 * Pure: token counting is passed in (one token a character here, or the documented estimate).
 */
import {
  personaBlock,
  personaBlocksWithin,
  shareBudget,
  trimToTokens,
  type PersonaContext,
} from '../../src/domain/generation/prompt';
import { estimateTokens } from '../../src/domain/tokens';

/** One token per character: exact budgets are easy to reason about. */
const chars = (text: string) => text.length;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** A deterministic pseudo-random sequence (no flaky inputs). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('shareBudget (water-filling)', () => {
  it('small personas keep all their tokens; the one large persona gets what they leave', () => {
    expect(shareBudget([100, 200, 3000], 1000)).toEqual([100, 200, 700]);
  });

  it('the rest is split equally among the larger ones (rounded down)', () => {
    expect(shareBudget([100, 900, 900], 1000)).toEqual([100, 450, 450]);
    expect(shareBudget([1000, 1000, 1000], 1000)).toEqual([333, 333, 333]);
  });

  it('a persona over the first equal share can still fit whole once the smaller ones leave room', () => {
    // Round 1: equal 300, only 100 fits; round 2: equal 400, 350 fits; round 3: 450 for the largest.
    expect(shareBudget([100, 350, 1000], 900)).toEqual([100, 350, 450]);
  });

  it('shares follow the input order, not the size order', () => {
    expect(shareBudget([1000, 100, 350], 900)).toEqual([450, 100, 350]);
  });

  it('all tiny (together under the budget): every persona keeps everything', () => {
    expect(shareBudget([10, 20, 30], 1000)).toEqual([10, 20, 30]);
    expect(shareBudget([10, 20, 30], 60)).toEqual([10, 20, 30]);
  });

  it('one persona: all of it when it fits, else the whole budget', () => {
    expect(shareBudget([150], 200)).toEqual([150]);
    expect(shareBudget([500], 200)).toEqual([200]);
  });

  it('zero budget: nothing for anyone (an empty persona keeps its zero)', () => {
    expect(shareBudget([5, 10], 0)).toEqual([0, 0]);
    expect(shareBudget([0, 10], 0)).toEqual([0, 0]);
  });

  it('no personas: no shares', () => {
    expect(shareBudget([], 100)).toEqual([]);
  });

  it('over many inputs: within the budget, never more than a persona has, and every cut persona gets the same share, at least as much as any whole one', () => {
    const rand = lcg(7);
    for (let round = 0; round < 500; round++) {
      const n = 1 + Math.floor(rand() * 8);
      const tokens = Array.from({ length: n }, () => Math.floor(rand() * 2000));
      const budget = Math.floor(rand() * 6000);
      const shares = shareBudget(tokens, budget);
      expect(shares).toHaveLength(n);
      expect(sum(shares)).toBeLessThanOrEqual(budget);
      shares.forEach((s, i) => {
        expect(Number.isInteger(s)).toBe(true);
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThanOrEqual(tokens[i]);
      });
      const cut = shares.filter((s, i) => s < tokens[i]);
      if (sum(tokens) <= budget) {
        expect(shares).toEqual(tokens);
      } else {
        expect(cut.length).toBeGreaterThan(0);
        expect(new Set(cut).size).toBe(1);
        const level = cut[0];
        tokens.forEach((t, i) => {
          if (shares[i] === t) expect(t).toBeLessThanOrEqual(level);
        });
        // Only the rounding of the equal split is left over.
        expect(budget - sum(shares)).toBeLessThan(cut.length);
      }
    }
  });
});

describe('trimToTokens', () => {
  const text = 'alpha beta gamma delta epsilon'; // 30 characters

  it('returns the text itself when it fits', () => {
    expect(trimToTokens(text, 30, chars)).toBe(text);
    expect(trimToTokens(text, 1000, chars)).toBe(text);
  });

  it('cuts at the last word boundary that fits with the ellipsis, never mid-word', () => {
    // Room for 18 characters before " …": "alpha beta gamma d" → back to the space.
    expect(trimToTokens(text, 20, chars)).toBe('alpha beta gamma …');
    expect(trimToTokens(text, 29, chars)).toBe('alpha beta gamma delta …');
    expect(trimToTokens(text, 11, chars)).toBe('alpha …');
  });

  it('keeps the last word when the cut ends exactly at its end', () => {
    // "alpha beta gamma delta …" is 24 characters: "delta" fits whole.
    expect(trimToTokens(text, 24, chars)).toBe('alpha beta gamma delta …');
    expect(trimToTokens(text, 7, chars)).toBe('alpha …');
  });

  it('cuts inside a word when the last space would lose more than half of what fits', () => {
    expect(trimToTokens('abcdefghijklmnopqrstuvwxyz', 10, chars)).toBe('abcdefgh …');
    expect(trimToTokens('ab cdefghijklmnopqrstuvwxyz', 12, chars)).toBe('ab cdefghi …');
  });

  it('never exceeds the budget, for every budget from 0 up, and keeps a prefix of the text', () => {
    const rand = lcg(11);
    const words = ['the', 'harbour', 'master', 'keeps', 'a', 'ledger', 'of', 'every', 'ship', 'that', 'never', 'came', 'back'];
    const long = Array.from({ length: 120 }, () => words[Math.floor(rand() * words.length)]).join(' ');
    for (const count of [chars, estimateTokens]) {
      for (let max = 0; max <= count(long) + 1; max++) {
        const out = trimToTokens(long, max, count);
        expect(count(out)).toBeLessThanOrEqual(max);
        if (out === long) continue;
        expect(out === '' || out.endsWith(' …')).toBe(true);
        expect(long.startsWith(out.replace(/ …$/, ''))).toBe(true);
      }
    }
  });

  it('zero budget (or less room than the ellipsis itself): nothing is left', () => {
    expect(trimToTokens(text, 0, chars)).toBe('');
    expect(trimToTokens(text, 1, chars)).toBe('');
    expect(trimToTokens(text, 0, estimateTokens)).toBe('');
    // The ellipsis alone fits once there are two characters of room.
    expect(trimToTokens(text, 2, chars)).toBe(' …');
  });

  it('uses as much of the budget as the word boundary allows', () => {
    const out = trimToTokens(text, 25, chars);
    expect(out).toBe('alpha beta gamma delta …');
    expect(chars(out)).toBe(24);
  });
});

describe('personaBlocksWithin', () => {
  const persona = (name: string, contextWords: number, voiceNotes: string[] = []): PersonaContext => ({
    name,
    description: `${name} in one line.`,
    context: Array.from({ length: contextWords }, (_, i) => `w${i}`).join(' '),
    voiceNotes,
  });

  it('under the budget: every block unchanged, nothing reported trimmed', () => {
    const ps = [persona('Ada', 10), persona('Bo', 20, ['dry'])];
    const out = personaBlocksWithin(ps, 10_000, chars);
    expect(out.blocks).toEqual(ps.map((p) => personaBlock(p)));
    expect(out.trimmed).toEqual([]);
    expect(out.tokens).toBe(sum(ps.map((p) => chars(personaBlock(p)))));
  });

  it('exactly at the budget counts as fitting', () => {
    const ps = [persona('Ada', 10), persona('Bo', 20)];
    const total = sum(ps.map((p) => chars(personaBlock(p))));
    expect(personaBlocksWithin(ps, total, chars).trimmed).toEqual([]);
    expect(personaBlocksWithin(ps, total - 1, chars).trimmed).toHaveLength(1);
  });

  it('over the budget: the smaller ones keep everything, the larger ones share the rest, within the budget', () => {
    const small = persona('Ada', 5, ['clipped']);
    const large1 = persona('Bertrand', 400, ['florid', 'long-winded']);
    const large2 = persona('Cleo', 300);
    const ps = [large1, small, large2];
    const blocks = ps.map((p) => personaBlock(p));
    const tokens = blocks.map(chars);
    const budget = 1200;
    expect(sum(tokens)).toBeGreaterThan(budget);
    const shares = shareBudget(tokens, budget);

    const out = personaBlocksWithin(ps, budget, chars);
    expect(out.blocks[1]).toBe(blocks[1]); // the small one, whole
    expect(out.tokens).toBeLessThanOrEqual(budget);
    expect(out.tokens).toBe(sum(out.blocks.map(chars)));
    expect(out.trimmed.map((t) => t.name)).toEqual(['Bertrand', 'Cleo']);
    for (const i of [0, 2]) {
      const p = ps[i];
      const block = out.blocks[i];
      const kept = out.trimmed.find((t) => t.name === p.name)!;
      expect(kept.tokens).toBe(tokens[i]);
      expect(kept.keptTokens).toBe(chars(block));
      expect(kept.keptTokens).toBeLessThanOrEqual(shares[i]);
      // Name, description and voice notes whole; the context a cut prefix of the original.
      expect(block.startsWith(`## ${p.name}\n${p.description}\n`)).toBe(true);
      const voice = p.voiceNotes.length ? `\nVoice: ${p.voiceNotes.join('; ')}` : '';
      expect(block.endsWith(voice)).toBe(true);
      const context = block.slice(`## ${p.name}\n${p.description}\n`.length, block.length - voice.length);
      expect(context.endsWith(' …')).toBe(true);
      expect(p.context.startsWith(context.slice(0, -2))).toBe(true);
    }
  });

  it('one persona over the budget: trimmed to the whole budget', () => {
    const p = persona('Solo', 500, ['terse']);
    const out = personaBlocksWithin([p], 300, chars);
    expect(out.trimmed).toEqual([{ name: 'Solo', tokens: chars(personaBlock(p)), keptTokens: chars(out.blocks[0]) }]);
    expect(out.tokens).toBeLessThanOrEqual(300);
    expect(out.tokens).toBeGreaterThan(300 - 10); // cut at a word, not far short of the budget
  });

  it('with the documented estimate (3.5 characters a token) the total stays within the budget', () => {
    const ps = [persona('A', 30), persona('B', 800), persona('C', 600, ['x', 'y']), persona('D', 12)];
    for (const budget of [100, 250, 500, 1000]) {
      const out = personaBlocksWithin(ps, budget, estimateTokens);
      expect(out.tokens).toBeLessThanOrEqual(budget);
      for (const t of out.trimmed) expect(t.keptTokens).toBeLessThan(t.tokens);
    }
  });

  it('a share smaller than the name, description and voice notes: those are kept whole, the context goes', () => {
    const p = persona('Frame', 200, ['a voice note that is fairly long on its own']);
    const frame = chars(personaBlock(p, ''));
    const out = personaBlocksWithin([p], frame - 5, chars);
    expect(out.blocks[0]).toBe(personaBlock(p, ''));
    expect(out.trimmed[0].keptTokens).toBe(frame);
  });
});
