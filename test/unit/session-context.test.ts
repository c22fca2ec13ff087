/** The turn's prompt: recent turns in full, older ones summarised or counted (never dropped silently), within the budget. */
import { buildSessionPrompt, estimateTokens, type ContextTurn } from '../../src/domain/sessions/context';
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

it('percentile is nearest-rank, as Postgres percentile_disc', () => {
  const xs = Array.from({ length: 20 }, (_, i) => i + 1);
  expect([percentile(xs, 50), percentile(xs, 95), percentile([7], 95), percentile([], 50)]).toEqual([10, 19, 7, 0]);
});
