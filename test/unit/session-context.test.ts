/** The turn's prompt: recent turns in full, older ones summarised or counted (never dropped silently), within the budget. */
import { buildSessionPrompt, buildSummaryPrompt, estimateTokens, type ContextTurn } from '../../src/domain/sessions/context';
import { summaryThroughFor, turnInputProblem } from '../../src/shared/sessions';
import { percentile } from '../../src/domain/sessions/metrics';

const turns = (n: number, words = 20): ContextTurn[] =>
  Array.from({ length: n }, (_, i) => ({ turnNumber: i + 1, input: `input ${i + 1} ${'word '.repeat(words)}`, reply: `reply ${i + 1} ${'word '.repeat(words)}` }));
const base = { title: 'T', world: { lamp: 'dark' }, characters: ['Mara'], olderTurns: 0, maxTurnHistory: 3, maxContextTokens: 4000, input: 'I wait' };

it('carries the last max_turn_history turns in full and summarises the older ones', () => {
  const p = buildSessionPrompt({ ...base, turns: turns(8) });
  expect(p.fullTurns).toBe(3);
  expect(p.messages.map((m) => m.content.split(' ').slice(0, 2).join(' '))).toEqual(['input 6', 'reply 6', 'input 7', 'reply 7', 'input 8', 'reply 8', 'I wait']);
  expect(p.summarisedTurns).toBe(5);
  expect(p.system).toMatch(/Turn 1: the player: "input 1/);
  expect(p.system).toContain('World state: {"lamp":"dark"}');
  expect(p.omittedTurns).toBe(0);
});

it('stays within max_context_tokens and counts what did not fit', () => {
  const p = buildSessionPrompt({ ...base, turns: turns(40, 200), olderTurns: 10, maxContextTokens: 1500 });
  expect(p.estimatedTokens).toBeLessThanOrEqual(1500);
  expect(estimateTokens(p.system + p.messages.map((m) => m.content).join(''))).toBeLessThanOrEqual(1600);
  expect(p.fullTurns + p.summarisedTurns + p.omittedTurns).toBe(50);
  expect(p.system).toMatch(new RegExp(`\\(${p.omittedTurns} earlier turns not shown`));
});

it('the LLM summary tells the turns it covers; only later turns outside the window are extracts', () => {
  const p = buildSessionPrompt({ ...base, turns: turns(8), summary: { throughTurn: 4, text: 'Mara found the key and opened the cellar.' } });
  expect(p.fullTurns).toBe(3);
  expect(p.system).toContain('The story so far (turns 1-4): Mara found the key and opened the cellar.');
  expect(p.system).not.toMatch(/Turn [1-4]: the player/);
  expect(p.system).toMatch(/Turn 5: the player: "input 5/);
  expect([p.summarisedTurns, p.omittedTurns, p.summaryThroughTurn]).toEqual([5, 0, 4]);
  // Turns not loaded from the database are covered when the summary reaches them.
  const far = buildSessionPrompt({ ...base, turns: turns(8).map((t) => ({ ...t, turnNumber: t.turnNumber + 10 })), olderTurns: 10, summary: { throughTurn: 15, text: 'Long ago.' } });
  expect([far.omittedTurns, far.fullTurns + far.summarisedTurns]).toEqual([0, 18]);
});

it('summaries cover the turns that left the window; each folds the previous one', () => {
  expect([1, 3, 4, 9].map((n) => summaryThroughFor(n, 3))).toEqual([0, 0, 0, 5]);
  const prompt = buildSummaryPrompt({ title: 'T', previous: { throughTurn: 2, text: 'Earlier things.' }, turns: turns(4).slice(2), maxTokens: 300 });
  expect(prompt.user).toMatch(/^The story so far \(turns 1-2\): Earlier things\.\n\nTurn 3\. The player: input 3/);
  expect(prompt.user).toContain('Turn 4. The player: input 4');
  expect(prompt.system).toContain('at most 300 tokens');
});

it('percentile is nearest-rank, as Postgres percentile_disc', () => {
  const xs = Array.from({ length: 20 }, (_, i) => i + 1);
  expect([percentile(xs, 50), percentile(xs, 95), percentile([7], 95), percentile([], 50)]).toEqual([10, 19, 7, 0]);
});

describe('turnInputProblem (the takeTurn validator)', () => {
  it('refuses a turn holding a NUL character, which the turn\'s write could not store after its calls were paid', () => {
    expect(turnInputProblem({ text: 'I open the door\u0000.' })).toBe('A turn cannot hold a NUL character (U+0000).');
    expect(turnInputProblem({ text: 'I open the door.' })).toBeUndefined();
  });
});
