/**
 * Ingestion activities on the main task queue: planning (one query each) and batched writes.
 * All are idempotent: a retry rewrites the same rows.
 */
import type { AppConfig } from '../config';
import type { DeferredLlmWrites, IngestionRepository, SheetRow, SummaryRow } from '../db/repositories/ingestion.repository';
import { inputHash } from '../domain/ingestion/input-hash';
import { PROMPT_VERSIONS, sceneEmbeddingText, summariesDigest } from '../domain/ingestion/prompts';
import type { LlmRoute, Purpose } from '../shared/llm-routing';
import type { IngestionMode } from '../shared/ingestion';
import { llmRoutesFor } from './llm.activities';

export interface PlanSummariesInput {
  scriptId: string;
  route: LlmRoute;
  /** Only scenes after this position are returned (continue-as-new keeps a cursor). */
  afterPosition: number;
  limit: number;
  /** Full: every scene is planned, current summary or not. Absent in runs started before it existed: partial. */
  mode?: IngestionMode;
}

export interface PlannedScene {
  id: number;
  position: number;
  /** Short label for the Web UI: "scene 12, INT. KITCHEN - NIGHT". */
  label: string;
}

export interface PlanSummariesResult {
  /** Scenes needing a summary, after the cursor, at most `limit`. */
  scenes: PlannedScene[];
  /** Totals over the whole script (for progress). */
  totalScenes: number;
  staleScenes: number;
  /** Whether stale scenes remain beyond this batch. */
  more: boolean;
}

export interface PlanPhase2Input {
  scriptId: string;
  mode: IngestionMode;
  routes: { outline: LlmRoute; sheet: LlmRoute; embedding: LlmRoute };
  embeddingDimensions?: number;
}

export interface StartIngestionRunInput {
  workflowId: string;
  runId: string;
  scriptId: string;
  mode: IngestionMode;
  flags: unknown;
  concurrency: unknown;
}

/** A run's start in one local activity: its routes, its row, and phase 1's plan (with the summary route). */
export interface StartIngestionInput {
  purposes: Purpose[];
  run: StartIngestionRunInput;
  plan: Omit<PlanSummariesInput, 'route'>;
}

export interface StartIngestionResult {
  routes: Record<string, LlmRoute>;
  title: string;
  plan: PlanSummariesResult;
}

export interface PlanPhase2Result {
  outline: boolean;
  characters: { id: number; name: string }[];
  embedSceneIds: number[];
  summarisedScenes: number;
  /**
   * All that phase 2 covers, current items included: the outline (0 or 1), characters who speak,
   * summarised scenes. What is not to be made is reused. Absent from plans recorded before 0.8.2.
   */
  covers?: { outline: number; sheets: number; embeddings: number };
}

export function sceneLabel(position: number, heading: string): string {
  const h = heading.length > 60 ? `${heading.slice(0, 57)}…` : heading;
  return `scene ${position + 1}, ${h}`;
}

export function sheetInputHash(route: LlmRoute, title: string, name: string, scenes: { position: number; heading: string; summary: string }[]): string {
  return inputHash(route.provider, route.model, PROMPT_VERSIONS.sheet, title, name, summariesDigest(scenes));
}

export function embeddingInputHash(route: LlmRoute, scene: { heading: string; summary: string }): string {
  return inputHash(route.provider, route.model, PROMPT_VERSIONS.embedding, sceneEmbeddingText(scene));
}

export function outlineInputHash(route: LlmRoute, title: string, scenes: { position: number; heading: string; summary: string }[]): string {
  return inputHash(route.provider, route.model, PROMPT_VERSIONS.outline, title, summariesDigest(scenes));
}

export function createIngestionActivities(deps: { repo: IngestionRepository; config: AppConfig }) {
  const { repo } = deps;

  /** Records the run as started (once per workflow, keyed by its first run id). */
  async function startIngestionRun(input: StartIngestionRunInput): Promise<{ title: string }> {
    const title = await repo.scriptTitle(input.scriptId);
    await repo.startRun(input);
    return { title };
  }

  /** Phase 1's pre-fetch: one query for every scene and whether its summary is current (a full run redoes them all). */
  async function planSummaries(input: PlanSummariesInput): Promise<PlanSummariesResult> {
    const states = await repo.sceneSummaryStates(input.scriptId, input.route.model, PROMPT_VERSIONS.summary);
    const stale = input.mode === 'full' ? states : states.filter((s) => !s.fresh);
    const after = stale.filter((s) => s.position > input.afterPosition);
    return {
      scenes: after.slice(0, input.limit).map((s) => ({ id: s.id, position: s.position, label: sceneLabel(s.position, s.heading) })),
      totalScenes: states.length,
      staleScenes: stale.length,
      more: after.length > input.limit,
    };
  }

  /**
   * What phase 2 must (re)make. Full: everything. Partial: only what is stale — the outline
   * when any summary changed, sheets whose character's scenes changed, embeddings of scenes
   * whose summary changed (each compared by the hash of its inputs).
   */
  async function planPhase2(input: PlanPhase2Input): Promise<PlanPhase2Result> {
    const full = input.mode === 'full';
    const [title, { scenes: summaries, characters }, currentOutline] = await Promise.all([
      repo.scriptTitle(input.scriptId),
      repo.phase2State(input.scriptId),
      full ? Promise.resolve(undefined) : repo.outlineInputHash(input.scriptId),
    ]);
    const outline = summaries.length > 0 && (full || currentOutline !== outlineInputHash(input.routes.outline, title, summaries));
    const speaking = characters.filter((c) => c.scenes.length > 0);
    const staleCharacters = speaking.filter((c) => full || c.sheetInputHash !== sheetInputHash(input.routes.sheet, title, c.name, c.scenes));
    const embedSceneIds = summaries
      .filter((e) => full || e.inputHash !== embeddingInputHash(input.routes.embedding, e) || (input.embeddingDimensions !== undefined && e.dimensions !== input.embeddingDimensions))
      .map((e) => e.id);
    return {
      outline,
      characters: staleCharacters.map((c) => ({ id: c.id, name: c.name })),
      embedSceneIds,
      summarisedScenes: summaries.length,
      covers: { outline: summaries.length > 0 ? 1 : 0, sheets: speaking.length, embeddings: summaries.length },
    };
  }

  return {
    startIngestionRun,
    planSummaries,
    planPhase2,

    /**
     * The run's start in one local activity (one workflow-task round instead of two): the LLM
     * routes from this worker's configuration, the run's row and phase 1's plan, the last two at once.
     */
    async startIngestion(input: StartIngestionInput): Promise<StartIngestionResult> {
      const routes = llmRoutesFor(deps.config, input.purposes);
      const [{ title }, plan] = await Promise.all([startIngestionRun(input.run), planSummaries({ ...input.plan, route: routes.summary })]);
      return { routes, title, plan };
    },

    /** Phase 1's last summaries, then phase 2's plan: one local activity where the rows are written before the plan reads them. */
    async saveSummariesAndPlanPhase2(input: { rows: (SummaryRow & DeferredLlmWrites)[]; plan: PlanPhase2Input }): Promise<PlanPhase2Result> {
      await repo.saveSummaries(input.rows);
      return planPhase2(input.plan);
    },

    /** Writes a batch of summaries, with the LLM call rows and cache entries they carry, in one statement. */
    async saveSceneSummaries(rows: (SummaryRow & DeferredLlmWrites)[]): Promise<void> {
      await repo.saveSummaries(rows);
    },

    /** Writes a batch of character sheets, with the LLM call rows and cache entries they carry, in one statement. */
    async saveCharacterSheets(rows: (SheetRow & DeferredLlmWrites)[]): Promise<void> {
      await repo.saveSheets(rows);
    },

    async finishIngestionRun(input: { runId: string; status: string; result: unknown; failures: unknown[] }): Promise<void> {
      await repo.finishRun(input.runId, input.status, input.result, input.failures);
    },
  };
}
