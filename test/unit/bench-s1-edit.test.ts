/**
 * S1.4 (one scene edited, partial ingestion) is judged on what the simulator received, not only
 * on the wall: extra work done in parallel hides under the outline's latency.
 */
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { outlineCallsFor } from '../../bench/bounds';
import { editScene, editTargets, editWork, expectedEditCalls } from '../../bench/scenarios/s1';
import { parseText } from '../../bench/env';

const expected = { summary: 1, outline: 1, sheet: 3, embedding: 1, embeddingInputs: 1 };
const exact = { byPurpose: { summary: 1, outline: 1, sheet: 3, embedding: 1 }, embeddingInputs: 1 };

describe('editTargets (bench S1.4: the calls the simulator received)', () => {
  it('is met when the simulator received exactly the edit’s calls', () => {
    const t = editTargets(expected, exact);
    expect(t.met).toBe(true);
    expect(t.what).toBe("the simulator received exactly the edit's calls (its summary, the outline, its speakers' sheets, one embedding request of one input)");
    expect(t.value).toBe('as expected: summary 1, outline 1, sheet 3, embedding 1, embedding inputs 1');
  });

  it('is missed by sheets beyond the affected speakers', () => {
    const t = editTargets(expected, { ...exact, byPurpose: { ...exact.byPurpose, sheet: 5 } });
    expect(t.met).toBe(false);
    expect(t.value).toBe('sheet 5 (expected 3)');
  });

  it('is missed by every scene re-embedded, even in one request', () => {
    const t = editTargets(expected, { ...exact, embeddingInputs: 100 });
    expect(t.met).toBe(false);
    expect(t.value).toBe('embedding inputs 100 (expected 1)');
  });

  it('is missed by fewer calls than the edit needs, and by calls of any other purpose', () => {
    expect(editTargets(expected, { byPurpose: { summary: 1, sheet: 3, embedding: 1 }, embeddingInputs: 1 }).value).toBe('outline 0 (expected 1)');
    const t = editTargets(expected, { byPurpose: { ...exact.byPurpose, synthesis: 2 }, embeddingInputs: 1 });
    expect(t).toMatchObject({ met: false, value: 'synthesis 2 (expected 0)' });
  });
});

describe('expectedEditCalls (from the script S1 writes, not from the app)', () => {
  const title = 'S1 row 2 test';
  const text = editScene(syntheticScreenplay({ title, scenes: 100, characters: 10, salt: title }), 49);
  const anthropic = { provider: 'anthropic' as const, model: 'claude-sonnet-4-6' };

  it('is one summary, one outline, the edited scene’s speakers’ sheets and one embedding request of one input', async () => {
    const calls = await expectedEditCalls(text, 49, { route: anthropic, contextTokens: 100_000 });
    expect(calls).toEqual({ summary: 1, outline: 1, sheet: editWork(text, 49).sheets, embedding: 1, embeddingInputs: 1 });
    expect(calls.sheet).toBe(new Set(parseText(text).scenes[48].characters).size);
    expect(calls.sheet).toBe(3); // scene 49's three speakers
  });

  it('counts an outline made by sections: one call per section, then one over them', async () => {
    const scenes = parseText(text).scenes;
    // The 100 simulated summaries' lines cannot fit a context of 1,000 tokens at once.
    const n = await outlineCallsFor(scenes, anthropic, 1000);
    expect(n).toBeGreaterThan(2);
    expect(await outlineCallsFor(scenes.slice(0, 1), anthropic, 1000)).toBe(1);
  });
});
