/**
 * Multi-request LLM activities resume where a failed attempt stopped (progress saved in
 * heartbeats), and make one request at a time inside their provider slot. Real Postgres, the
 * simulator through the SDKs, the activity run in Temporal's mock activity environment.
 */
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createAnalysisActivities } from '../../src/activities/analysis.activities';
import { IngestionRepository } from '../../src/db/repositories/ingestion.repository';
import { LlmFailureType } from '../../src/shared/failure-types';
import type { LlmRoute } from '../../src/shared/llm-routing';
import { useTestServices } from '../helpers/harness';
import { importSynthetic } from '../helpers/scripts';

const stack = useTestServices();
let repo: IngestionRepository;
beforeAll(() => {
  repo = new IngestionRepository(stack.services.db);
});
beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null });
  stack.sim.resetStats();
});

const SCENES = 12;
const route = (provider: 'anthropic' | 'openai', model: string): LlmRoute => ({ provider, model, taskQueue: 'unused', requestTimeoutMs: 5000 });

/** A script whose every scene has a summary naming it (`marker-<position>`), so a fault can pick one. */
async function summarisedScript(name: string): Promise<{ scriptId: string; sceneIds: number[] }> {
  const { scriptId } = await importSynthetic(stack.services.db, SCENES, 3, `${name} ${Date.now()}`);
  const scenes: { id: string; position: number; content_hash: string }[] = await stack.services.db.query(
    'SELECT id, position, content_hash FROM scenes WHERE script_id = $1 ORDER BY position',
    [scriptId],
  );
  const filler = 'The keeper climbs the stairs, counts the ships, and writes every name in the log before dawn.';
  await repo.saveSummaries(
    scenes.map((s) => ({ sceneId: Number(s.id), contentHash: s.content_hash, model: 'm', promptVersion: 'v', summary: `marker-${s.position}. ${filler} ${filler}` })),
  );
  return { scriptId, sceneIds: scenes.map((s) => Number(s.id)) };
}

/** The failure the injected `http400` fault makes: the provider's 400, not retried (and not any other error). */
function expectInjected400(error: unknown): void {
  expect(error).toBeInstanceOf(ApplicationFailure);
  expect(error).toMatchObject({ type: LlmFailureType.InvalidRequest, nonRetryable: true });
  expect((error as ApplicationFailure).message).toMatch(/\(400\).*Simulated invalid request/);
}

/** Runs `fn` as attempt `attempt` of one activity, starting from `heartbeatDetails`; returns its last heartbeat too. */
async function attempt<R>(attemptNo: number, heartbeatDetails: unknown, fn: () => Promise<R>): Promise<{ result?: R; error?: unknown; lastHeartbeat: unknown }> {
  const env = new MockActivityEnvironment({
    attempt: attemptNo,
    heartbeatDetails,
    activityId: 'resume-1',
    workflowExecution: { workflowId: `wf-resume-${Date.now()}-${Math.random()}`, runId: 'run-1' },
  }, { logger: new DefaultLogger('ERROR', () => undefined) });
  let lastHeartbeat: unknown = heartbeatDetails;
  env.on('heartbeat', (d: unknown) => {
    if (d !== undefined) lastHeartbeat = d;
  });
  try {
    return { result: await env.run(fn), lastHeartbeat };
  } catch (error) {
    return { error, lastHeartbeat };
  }
}

it('outline by sections: one request at a time, and a retry resumes after the sections already done', async () => {
  const { scriptId } = await summarisedScript('Outline resume');
  const activities = createAnalysisActivities({ repo, llm: stack.services.llm, outlineContextTokens: 150, embeddingDimensions: 256 });
  const input = { scriptId, title: 'Outline resume', route: route('anthropic', 'claude-sonnet-4-6'), useCache: false };
  stack.sim.configure({ latency: { byPurpose: { outline: { fixedMs: 30 } } }, faults: [{ kind: 'http400', purpose: 'outline', contains: 'part 3 of' }] });

  const first = await attempt(1, undefined, () => activities.writeOutline(input));
  expectInjected400(first.error);
  expect((first.lastHeartbeat as { sections: unknown[] }).sections).toHaveLength(2);
  const firstRequests = stack.sim.stats().byPurpose.outline.requests;
  expect(firstRequests).toBe(3);

  stack.sim.configure({ faults: [] });
  const second = await attempt(2, first.lastHeartbeat, () => activities.writeOutline(input));
  expect(second.error).toBeUndefined();
  const sections = second.result!.sections;
  expect(sections).toBeGreaterThan(3);
  // Sections 3..n and the outline over them: sections 1 and 2 came from the heartbeat.
  expect(stack.sim.stats().byPurpose.outline.requests - firstRequests).toBe(sections - 2 + 1);
  expect(stack.sim.stats().byPurpose.outline.peakConcurrent).toBe(1);
  const [outline] = await stack.services.db.query('SELECT sections FROM script_outlines WHERE script_id = $1', [scriptId]);
  expect(outline.sections).toBe(sections);
});

it('unbatched embeddings: a retry embeds only the scenes the failed attempt had not stored', async () => {
  const { sceneIds } = await summarisedScript('Embedding resume');
  const activities = createAnalysisActivities({ repo, llm: stack.services.llm, outlineContextTokens: 100_000, embeddingDimensions: 256, checkpointEveryMs: 0 });
  const input = { sceneIds, batch: false, route: route('openai', 'text-embedding-3-small'), useCache: false };
  stack.sim.configure({ faults: [{ kind: 'http400', purpose: 'embedding', contains: 'marker-7.' }] });
  const stored = async () => Number((await stack.services.db.query('SELECT count(*) AS n FROM scene_embeddings WHERE scene_id = ANY($1::bigint[])', [sceneIds]))[0].n);

  const first = await attempt(1, undefined, () => activities.embedScenes(input));
  expectInjected400(first.error);
  expect((first.lastHeartbeat as { storedSceneIds: number[] }).storedSceneIds).toHaveLength(7);
  expect(await stored()).toBe(7);
  expect(stack.sim.stats().byPurpose.embedding.requests).toBe(8);

  stack.sim.configure({ faults: [] });
  const second = await attempt(2, first.lastHeartbeat, () => activities.embedScenes(input));
  expect(second.result).toEqual({ embedded: SCENES, requests: SCENES - 7, cached: 0 });
  expect(stack.sim.stats().byPurpose.embedding.requests).toBe(8 + SCENES - 7);
  expect(await stored()).toBe(SCENES);
});
