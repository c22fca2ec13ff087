/**
 * The DBOS peer (bench S1.6) writes its summaries as storyloom's batch writer does: each full
 * batch of 25 while phase 1 still runs, so at most one write is left after the last summary —
 * not all four on the critical path. Steps and the LLM are fakes; time is jest's fake clock.
 */
import { makespan } from '../../bench/bounds';
import { peerIngestion, type DbosPeerDeps, type StepRunner } from '../../bench/peers/dbos-ingest';

const SUMMARY_WINDOW = 10;
const WRITE_MS = 5;

type Event = { seq: number; at: number; what: 'summary' | 'write'; sceneIds?: number[] };

/** Runs a workflow of `scenes` scenes whose summary of scene i (0-based) is answered after answerMs(i). */
async function runPeer(scenes: number, answerMs: (i: number) => number) {
  const events: Event[] = [];
  const log = (e: Omit<Event, 'seq' | 'at'>) => events.push({ seq: events.length, at: Date.now(), ...e });
  // The steps in the order the workflow calls them (DBOS gives each its id at the call).
  const stepNames: string[] = [];
  // Steps the test does not look into: phase 2's and the run's end.
  const canned: Record<string, unknown> = { writeOutline: undefined, loadCharacters: [], embedScenes: 0, finishRun: undefined };
  const steps: StepRunner = {
    workflowId: () => 'peer-workflow',
    async runStep(fn, config) {
      stepNames.push(config.name);
      if (config.name in canned) return canned[config.name] as never;
      const value = await fn();
      if (config.name === 'summarizeScene') log({ what: 'summary', sceneIds: [(value as { sceneId: number }).sceneId] });
      return value;
    },
  };
  const ids = Array.from({ length: scenes }, (_, i) => i + 1);
  let inFlight = 0;
  let peak = 0;
  const repo = {
    scriptTitle: () => Promise.resolve('A title'),
    startRun: () => Promise.resolve(),
    sceneSummaryStates: () => Promise.resolve(ids.map((id) => ({ id, position: id - 1, fresh: false }))),
    scenesOfScriptWith: () => Promise.resolve(new Map(ids.map((id) => [id, { position: id - 1, heading: `INT. ROOM ${id}`, text: `Scene ${id}.`, contentHash: `h${id}` }]))),
    saveSummaries: async (rows: { sceneId: number }[]) => {
      log({ what: 'write', sceneIds: rows.map((r) => r.sceneId) });
      await new Promise((resolve) => setTimeout(resolve, WRITE_MS));
    },
    saveSheets: () => Promise.resolve(),
  };
  const llm = {
    chat: async (_call: unknown, ctx: { activityId: string }) => {
      const id = Number(ctx.activityId.split(':')[1]);
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, answerMs(id - 1)));
      inFlight--;
      return { text: ` summary ${id} `, cached: false };
    },
  };
  const model = { provider: 'anthropic', model: 'sim' };
  const deps = {
    config: { llm: { models: { summary: model, outline: model, sheet: model, embedding: model }, requestTimeoutMs: 60_000, embeddingDimensions: 8, prices: {} } },
    db: {},
    repo,
    llm,
    concurrency: { summaries: SUMMARY_WINDOW, sheets: 5 },
    flushRecorders: () => Promise.resolve(),
  } as unknown as DbosPeerDeps;

  const run = peerIngestion(deps, steps)('script-1');
  let done = false;
  const watched = run.finally(() => {
    done = true;
  });
  for (let i = 0; !done && i < 100_000; i++) await jest.advanceTimersByTimeAsync(1);
  const result = await watched;

  const summaries = events.filter((e) => e.what === 'summary');
  const lastSummary = summaries[summaries.length - 1];
  const writes = events.filter((e) => e.what === 'write');
  return { result, events, stepNames, writes, lastSummary, writesAfterLastSummary: writes.filter((w) => w.seq > lastSummary.seq), peak };
}

/** Answer times 100–149 ms, varied so scenes finish out of order. */
const spread = (i: number) => 100 + ((i * 37) % 50);

describe('DBOS peer: summary writes off the critical path (bench S1.6)', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('writes each full batch as it fills, leaving at most one write after the last summary', async () => {
    const r = await runPeer(100, spread);
    expect(r.result).toEqual({ workflowId: 'peer-workflow', summaries: 100, sheets: 0, embedded: 0 });
    // The same rows and calls as before: four batches of 25, in scene order.
    expect(r.writes.map((w) => w.sceneIds)).toEqual([0, 1, 2, 3].map((k) => Array.from({ length: 25 }, (_, i) => 25 * k + i + 1)));
    expect(r.writesAfterLastSummary.length).toBeLessThanOrEqual(1);
    // Batches 1–3 went out while summaries still ran, each the moment its 25 scenes were answered
    // and the batch before it was written.
    expect(r.writes.slice(0, 3).every((w) => w.seq < r.lastSummary.seq)).toBe(true);
    const answeredAt = new Map(r.events.filter((e) => e.what === 'summary').map((e) => [e.sceneIds![0], e.at]));
    r.writes.forEach((w, k) => {
      const filled = Math.max(...w.sceneIds!.map((id) => answeredAt.get(id)!));
      expect(w.at).toBe(k === 0 ? filled : Math.max(filled, r.writes[k - 1].at + WRITE_MS));
    });
  });

  it('keeps the summaries at their window: the writes take no slot and hold no summary back', async () => {
    const r = await runPeer(100, spread);
    expect(r.peak).toBe(SUMMARY_WINDOW);
    // The last summary ends when a greedy schedule of the answer times through 10 slots does.
    expect(r.lastSummary.at).toBe(makespan(Array.from({ length: 100 }, (_, i) => spread(i)), SUMMARY_WINDOW));
  });

  it('calls its steps in the same order whatever order the answers come in (DBOS replays steps by call order)', async () => {
    const a = await runPeer(100, spread);
    const b = await runPeer(100, (i) => spread(99 - i));
    expect(b.stepNames).toEqual(a.stepNames);
    // Each batch's write step is called right after the step of its last scene.
    const phase1 = a.stepNames.slice(2, 2 + 104);
    const expected = [0, 1, 2, 3].flatMap(() => [...Array<string>(25).fill('summarizeScene'), 'saveSummaries']);
    expect(phase1).toEqual(expected);
  });

  it('writes a remainder of fewer than 25 only after the last summary', async () => {
    const r = await runPeer(60, spread);
    expect(r.writes.map((w) => w.sceneIds!.length)).toEqual([25, 25, 10]);
    expect(r.writesAfterLastSummary.map((w) => w.sceneIds!.length)).toEqual([10]);
  });
});
