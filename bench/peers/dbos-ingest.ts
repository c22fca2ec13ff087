/**
 * Row S1.6's peer: the default ingestion on DBOS Transact (@dbos-inc/dbos-sdk) — durable
 * workflows on Postgres alone, what a user who wants durability without a Temporal server
 * would pick. The same pipeline as storyloom's defaults: the same prompts, LLM service
 * (adapters, cache, call log), simulator and repository writes; summaries 10 at a time, then
 * outline ∥ sheets (5 at a time) ∥ embeddings. Every provider call is a DBOS step (its output
 * checkpointed in DBOS's system tables, here in the bench database behind the wire counter).
 *
 * Steps start in a fixed order (a FIFO limiter starts queued work in submission order), so a
 * recovered workflow replays its steps by the same ids. Results are written in batches of 25
 * summaries, each a step, once phase 1 is done. The run's own bookkeeping is storyloom's too:
 * its `ingestion_runs` row written with the plan, then finished, and its `run_reports` row
 * built from the call log when it ends.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../src/config';
import { IngestionRepository, type DeferredLlmWrites, type EmbeddingRow, type SheetRow, type SummaryRow } from '../../src/db/repositories/ingestion.repository';
import { CHARACTER_SHEET_SCHEMA, parseCharacterSheet } from '../../src/domain/ingestion/character-sheet';
import { embeddingBatches } from '../../src/domain/ingestion/embedding-batches';
import { characterSheetPrompt, outlinePrompt, PROMPT_VERSIONS, sceneEmbeddingText, sceneSummaryPrompt, summariesDigest } from '../../src/domain/ingestion/prompts';
import { deferredWrites, type CallContext, type LlmService } from '../../src/llm/llm-service';
import { embeddingInputHash, outlineInputHash, sheetInputHash } from '../../src/activities/ingestion.activities';
import type { LlmRoute } from '../../src/shared/llm-routing';
import { DEFAULT_FLAGS } from '../../src/shared/ingestion';
import { buildRunReport, saveRunReport } from '../../src/reporting/load-run-report';
import { mapLimit } from '../limiter';

const WRITE_BATCH = 25;

export interface DbosPeerDeps {
  config: AppConfig;
  db: DataSource;
  repo: IngestionRepository;
  llm: LlmService;
  concurrency: { summaries: number; sheets: number };
  /** Writes the worker's buffered call-log rows and statement counts, as storyloom's report does first. */
  flushRecorders: () => Promise<void>;
}

export interface DbosPeer {
  /** Launches DBOS; `ingest` runs only between `launch` and `shutdown`. */
  launch(): Promise<void>;
  ingest(scriptId: string): Promise<DbosPeerResult>;
  shutdown(): Promise<void>;
}

/** What the peer made, and its workflow id (its `ingestion_runs` and `run_reports` rows are keyed by it). */
export interface DbosPeerResult {
  workflowId: string;
  summaries: number;
  sheets: number;
  embedded: number;
}

let registered = false;

/**
 * Registers the peer's workflow with DBOS (once per process: DBOS is a singleton) against
 * `systemDatabaseUrl` (its tables go in schema `dbos`). DBOS polls its system tables while
 * launched, even idle, so the bench launches it only around the peer's own runs.
 */
export function createDbosPeer(systemDatabaseUrl: string, deps: DbosPeerDeps): DbosPeer {
  if (registered) throw new Error('the DBOS peer is registered once per process');
  registered = true;
  const { repo, llm, config } = deps;
  const route = (purpose: 'summary' | 'outline' | 'sheet' | 'embedding'): LlmRoute => ({ ...config.llm.models[purpose], taskQueue: '', requestTimeoutMs: config.llm.requestTimeoutMs });
  // Each step's calls get a row key (workflow/step/attempt/index), as an activity's do.
  const ctxFor = (step: string): CallContext => {
    let calls = 0;
    return { workflowId: DBOS.workflowID!, runId: DBOS.workflowID!, activityId: step, activityType: step.split(':')[0], attempt: 1, nextCallIndex: () => calls++ };
  };

  async function ingest(scriptId: string): Promise<DbosPeerResult> {
    const summaryRoute = route('summary');
    const startedAt = Date.now();
    const runId = DBOS.workflowID!;
    // The run's row and phase 1's plan at once, as storyloom's start does.
    const [title, states] = await DBOS.runStep(
      () =>
        Promise.all([
          repo.scriptTitle(scriptId).then(async (t) => {
            await repo.startRun({ workflowId: runId, runId, scriptId, mode: 'full', flags: DEFAULT_FLAGS, concurrency: deps.concurrency });
            return t;
          }),
          repo.sceneSummaryStates(scriptId, summaryRoute.model, PROMPT_VERSIONS.summary),
        ]),
      { name: 'plan' },
    );
    const scenes = states.length ? await DBOS.runStep(async () => Object.fromEntries(await repo.scenesOfScriptWith(states[0].id)), { name: 'loadScenes' }) : {};

    // Phase 1: a summary step per scene, 10 at a time, then the rows in batches of 25.
    const rows = await mapLimit(states, deps.concurrency.summaries, (s) =>
      DBOS.runStep(
        async (): Promise<SummaryRow & DeferredLlmWrites> => {
          const scene = scenes[s.id];
          const collect = deferredWrites();
          const r = await llm.chat(
            { purpose: 'summary', provider: summaryRoute.provider, model: summaryRoute.model, promptVersion: PROMPT_VERSIONS.summary, request: sceneSummaryPrompt(scene), useCache: true, refreshCache: true },
            { ...ctxFor(`summarizeScene:${s.id}`), collect },
          );
          return { sceneId: s.id, contentHash: scene.contentHash, model: summaryRoute.model, promptVersion: PROMPT_VERSIONS.summary, summary: r.text.trim(), ...collect };
        },
        { name: 'summarizeScene', retriesAllowed: true, maxAttempts: 8 },
      ),
    );
    for (let i = 0; i < rows.length; i += WRITE_BATCH) await DBOS.runStep(() => repo.saveSummaries(rows.slice(i, i + WRITE_BATCH)), { name: 'saveSummaries' });
    const phase1Ms = Date.now() - startedAt;

    // Phase 2: outline ∥ sheets ∥ embeddings.
    const outline = DBOS.runStep(
      async () => {
        const r = route('outline');
        const summaries = await repo.summariesInOrder(scriptId);
        const o = await llm.chat(
          { purpose: 'outline', provider: r.provider, model: r.model, promptVersion: PROMPT_VERSIONS.outline, request: outlinePrompt(title, summariesDigest(summaries)), useCache: true, refreshCache: true },
          ctxFor('writeOutline'),
        );
        await repo.saveOutline({ scriptId, outline: o.text.trim(), model: r.model, promptVersion: PROMPT_VERSIONS.outline, sections: 1, inputHash: outlineInputHash(r, title, summaries) });
      },
      { name: 'writeOutline' },
    );
    const sheets = (async () => {
      const r = route('sheet');
      const characters = (await DBOS.runStep(() => repo.charactersWithScenes(scriptId), { name: 'loadCharacters' })).filter((c) => c.scenes.length > 0);
      const made = await mapLimit(characters, deps.concurrency.sheets, (c) =>
        DBOS.runStep(
          async (): Promise<SheetRow & DeferredLlmWrites> => {
            const collect = deferredWrites();
            const a = await llm.chat(
              {
                purpose: 'sheet', provider: r.provider, model: r.model, promptVersion: PROMPT_VERSIONS.sheet,
                request: { ...characterSheetPrompt(title, c.name, c.scenes), jsonSchema: { name: 'character_sheet', schema: CHARACTER_SHEET_SCHEMA as unknown as Record<string, unknown> } },
                useCache: true, refreshCache: true,
              },
              { ...ctxFor(`generateCharacterSheet:${c.id}`), collect },
            );
            const sheet = { ...parseCharacterSheet(a.text), name: c.name };
            return { characterId: c.id, sheet, model: r.model, promptVersion: PROMPT_VERSIONS.sheet, inputHash: sheetInputHash(r, title, c.name, c.scenes), ...collect };
          },
          { name: 'generateCharacterSheet', retriesAllowed: true, maxAttempts: 8 },
        ),
      );
      await DBOS.runStep(() => repo.saveSheets(made), { name: 'saveSheets' });
      return made.length;
    })();
    const embeddings = DBOS.runStep(
      async () => {
        const r = route('embedding');
        const summaries = await repo.summariesInOrder(scriptId);
        const out: EmbeddingRow[] = [];
        for (const batch of embeddingBatches(summaries, sceneEmbeddingText)) {
          const e = await llm.embed(
            { purpose: 'embedding', provider: r.provider, model: r.model, promptVersion: PROMPT_VERSIONS.embedding, texts: batch.map(sceneEmbeddingText), dimensions: config.llm.embeddingDimensions, useCache: true, refreshCache: true },
            ctxFor('embedScenes'),
          );
          batch.forEach((s, i) => out.push({ sceneId: s.id, inputHash: embeddingInputHash(r, s), model: r.model, vector: e.vectors[i] }));
        }
        await repo.saveEmbeddings(out);
        return out.length;
      },
      { name: 'embedScenes' },
    );
    const [, sheetCount, embedded] = await Promise.all([outline, sheets, embeddings]);
    const done = { workflowId: runId, summaries: rows.length, sheets: sheetCount, embedded };
    // The run's row finished ∥ its report, as storyloom's end does (no history: its length is unknown).
    const wallMs = Date.now() - startedAt;
    await DBOS.runStep(
      async () => {
        const run = {
          workflowId: runId, runIds: [runId], kind: 'ingestScript', scriptId, status: 'completed', wallMs,
          phasesMs: { summaries: phase1Ms, phase2: wallMs - phase1Ms }, ingestion: { flags: DEFAULT_FLAGS, concurrency: deps.concurrency },
        };
        await Promise.all([
          repo.finishRun(runId, 'completed', { scriptId, status: 'completed', ...done }, []),
          (async () => {
            await deps.flushRecorders();
            await saveRunReport(deps.db, run, await buildRunReport({ db: deps.db, prices: config.llm.prices, historyLength: async () => null }, run));
          })(),
        ]);
      },
      { name: 'finishRun' },
    );
    return done;
  }

  const workflow = DBOS.registerWorkflow(ingest, { name: 'ingestScriptDbos' });
  return {
    async launch() {
      DBOS.setConfig({ name: 'storyloom-bench-peer', systemDatabaseUrl, logLevel: 'error', systemDatabasePoolSize: 10 });
      await DBOS.launch();
    },
    async ingest(scriptId) {
      const handle = await DBOS.startWorkflow(workflow)(scriptId);
      return handle.getResult();
    },
    shutdown: () => DBOS.shutdown(),
  };
}

export { IngestionRepository };
