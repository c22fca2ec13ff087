/**
 * Ingestion's LLM activities; they run on the provider's task queue. Each loads what it needs
 * by id (payloads carry ids, never script text) and either returns a small result for the
 * workflow to write in batches, or writes its own rows idempotently (outline, embeddings).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { EmbeddingRow, IngestionRepository, SheetRow, SummaryRow } from '../db/repositories/ingestion.repository';
import { parseCharacterSheet, CHARACTER_SHEET_SCHEMA } from '../domain/ingestion/character-sheet';
import { embeddingBatches, MAX_TOKENS_PER_REQUEST } from '../domain/ingestion/embedding-batches';
import { estimateTokens, type CountTokens } from '../domain/tokens';
import { localCounter } from '../llm/token-counter';
import { inputHash } from '../domain/ingestion/input-hash';
import {
  characterSheetPrompt,
  outlinePrompt,
  outlineSectionPrompt,
  PROMPT_VERSIONS,
  sceneEmbeddingText,
  sceneSummaryPrompt,
  summariesDigest,
  type PromptSpec,
} from '../domain/ingestion/prompts';
import { deferredWrites, type CallContext, type LlmService } from '../llm/llm-service';
import type { DeferredLlmWrites } from '../db/repositories/ingestion.repository';
import { RunDataCache } from './run-data-cache';
import { LlmFailureType } from '../shared/failure-types';
import type { LlmRoute } from '../shared/llm-routing';
import { withActivityContext } from './activity-context';
import { embeddingInputHash, outlineInputHash, sheetInputHash } from './ingestion.activities';

export interface AnalysisDeps {
  repo: IngestionRepository;
  llm: LlmService;
  /** Tokens of summaries the outline model takes in one call before the outline is made by sections. */
  outlineContextTokens: number;
  embeddingDimensions: number;
  /** How often a long embedding activity stores its vectors and saves progress (default 30 s). */
  checkpointEveryMs?: number;
  /** A run's scenes and characters, loaded once per worker (default: one for these activities). */
  runData?: RunDataCache;
}

/**
 * How often a long embedding activity stores what it has (a retry then resumes from there). Each
 * checkpoint is a commit: 30 s bounds the work a retry repeats while adding a commit per 30 s only
 * to runs with batching off (batched embeddings finish well within it).
 */
const DEFAULT_CHECKPOINT_EVERY_MS = 30_000;

/** The outline's heartbeat: each finished section's outline, keyed by a hash of its inputs. */
interface OutlineProgress {
  sections: { hash: string; text: string }[];
}

/** The embeddings' heartbeat: scenes whose vectors are stored. */
interface EmbeddingProgress {
  storedSceneIds: number[];
}

export interface LlmStepInput {
  route: LlmRoute;
  useCache: boolean;
  /** A full run's fresh answers: no cache reads, the answers are still stored. */
  refreshCache?: boolean;
  /** The run's deadline for waiting out rate limits (epoch ms); absent in runs of earlier releases. */
  deadlineAt?: number;
}

type CachePolicy = Pick<LlmStepInput, 'useCache' | 'refreshCache'>;

function chat(deps: AnalysisDeps, purpose: string, route: LlmRoute, promptVersion: string, prompt: PromptSpec, cache: CachePolicy, ctx: CallContext, jsonSchema?: { name: string; schema: Record<string, unknown> }) {
  return deps.llm.chat(
    { purpose, provider: route.provider, model: route.model, promptVersion, request: { ...prompt, jsonSchema }, useCache: cache.useCache, refreshCache: cache.refreshCache },
    ctx,
  );
}

/**
 * The counter that sizes batches against `budget`: the route's tokenizer (OpenAI's encodings)
 * when the texts could come near the budget, else the estimate — which then cannot change the
 * split (the estimate is within 4× of any tokenizer's count), and loading an encoding costs
 * seconds. Anthropic has no local tokenizer and its counting endpoint is a request per text,
 * so Anthropic routes keep the estimate.
 */
async function batchCounter(route: LlmRoute, texts: string[], budget: number): Promise<CountTokens | undefined> {
  const estimated = texts.reduce((n, t) => n + estimateTokens(t), 0);
  if (estimated <= budget / 4) return undefined;
  return (await localCounter(route.provider, route.model)).count;
}

export function createAnalysisActivities(deps: AnalysisDeps) {
  const { repo } = deps;
  const runData = deps.runData ?? new RunDataCache();
  return {
    /**
     * Summarises one scene; returns the row for the workflow's next batched write, with the
     * call's `llm_calls` row and cache entry, which that write stores (no statement here: the
     * scene comes from the run's scenes, loaded once per worker).
     */
    async summarizeScene(input: LlmStepInput & { sceneId: number }): Promise<SummaryRow & DeferredLlmWrites & { cached: boolean }> {
      const scene = await runData.get('scenes', input.sceneId, () => repo.scenesOfScriptWith(input.sceneId), () => repo.sceneForSummary(input.sceneId));
      return withActivityContext(async (ctx) => {
        const collect = deferredWrites();
        const result = await chat(deps, 'summary', input.route, PROMPT_VERSIONS.summary, sceneSummaryPrompt(scene), input, { ...ctx, collect });
        return {
          sceneId: input.sceneId,
          contentHash: scene.contentHash,
          model: input.route.model,
          promptVersion: PROMPT_VERSIONS.summary,
          summary: result.text.trim(),
          cached: result.cached,
          ...collect,
        };
      }, { deadlineAt: input.deadlineAt, pausesOnOutage: true });
    },

    /**
     * Writes the outline from every summary: one call, or — when the summaries exceed the
     * model's context budget — one call per section, then one over the section outlines.
     * Sections go one at a time: the activity holds one of the provider's slots, so its
     * requests never exceed the provider's cap. Each section's outline is saved in the
     * heartbeat, so a retry resumes after the last one done.
     */
    async writeOutline(input: LlmStepInput & { scriptId: string; title: string }): Promise<{ sections: number; calls: number; cached: boolean }> {
      const scenes = await repo.summariesInOrder(input.scriptId);
      return withActivityContext<{ sections: number; calls: number; cached: boolean }, OutlineProgress>(async (ctx, progress) => {
        const sectionText = (s: (typeof scenes)[number]) => `${s.heading}: ${s.summary}`;
        const countTokens = await batchCounter(input.route, scenes.map(sectionText), deps.outlineContextTokens);
        const sections = embeddingBatches(scenes, sectionText, { maxInputs: Infinity, maxTokens: deps.outlineContextTokens, countTokens });
        let digest: string;
        let calls = 1;
        // Cached only when every call of it was (a section made by a failed attempt counts as paid).
        let allCached = progress.previous === undefined;
        if (sections.length <= 1) {
          digest = summariesDigest(scenes);
        } else {
          const done: OutlineProgress['sections'] = [];
          for (const [i, section] of sections.entries()) {
            const sectionDigest = summariesDigest(section);
            const hash = inputHash(input.route.provider, input.route.model, PROMPT_VERSIONS.outlineSection, input.title, i, sections.length, sectionDigest);
            let text = progress.previous?.sections?.[i]?.hash === hash ? progress.previous.sections[i].text : undefined;
            if (text === undefined) {
              const part = await chat(deps, 'outline', input.route, PROMPT_VERSIONS.outlineSection,
                outlineSectionPrompt(input.title, i + 1, sections.length, sectionDigest), input, ctx);
              text = part.text.trim();
              allCached &&= part.cached;
              calls++;
            }
            done.push({ hash, text });
            progress.save({ sections: [...done] });
          }
          digest = done.map((p, i) => `Part ${i + 1}:\n${p.text}`).join('\n\n');
        }
        const outline = await chat(deps, 'outline', input.route, PROMPT_VERSIONS.outline, outlinePrompt(input.title, digest), input, ctx);
        await repo.saveOutline({
          scriptId: input.scriptId,
          outline: outline.text.trim(),
          model: input.route.model,
          promptVersion: PROMPT_VERSIONS.outline,
          sections: Math.max(1, sections.length),
          inputHash: outlineInputHash(input.route, input.title, scenes),
        });
        return { sections: Math.max(1, sections.length), calls, cached: allCached && outline.cached };
      }, { deadlineAt: input.deadlineAt, pausesOnOutage: true });
    },

    /**
     * A character sheet as structured JSON, validated against its schema; an invalid answer is
     * a retryable failure (the next attempt bypasses nothing: invalid answers are never cached).
     */
    async generateCharacterSheet(input: LlmStepInput & { characterId: number }): Promise<SheetRow & DeferredLlmWrites & { cached: boolean }> {
      const character = await runData.get('characters', input.characterId, () => repo.charactersOfScriptWith(input.characterId), () => repo.characterWithScenes(input.characterId));
      return withActivityContext(async (ctx) => {
        const collect = deferredWrites();
        const result = await chat(deps, 'sheet', input.route, PROMPT_VERSIONS.sheet,
          characterSheetPrompt(character.title, character.name, character.scenes), input, { ...ctx, collect },
          { name: 'character_sheet', schema: CHARACTER_SHEET_SCHEMA as unknown as Record<string, unknown> });
        let sheet;
        try {
          sheet = parseCharacterSheet(result.text);
        } catch (err) {
          throw ApplicationFailure.create({ type: LlmFailureType.InvalidOutput, message: `${character.name}: ${(err as Error).message}` });
        }
        return {
          characterId: input.characterId,
          sheet: { ...sheet, name: character.name },
          model: input.route.model,
          promptVersion: PROMPT_VERSIONS.sheet,
          inputHash: sheetInputHash(input.route, character.title, character.name, character.scenes),
          cached: result.cached,
          ...collect,
        };
      }, { deadlineAt: input.deadlineAt, pausesOnOutage: true });
    },

    /**
     * Embeds the scenes' summaries — one request per ≤ 2,048 inputs within a token budget, or
     * one per scene when `batch` is off — and writes the vectors in one transaction. A long run
     * of requests writes what it has every `checkpointEveryMs` and saves which scenes are
     * stored in the heartbeat, so a retry embeds only the rest.
     */
    async embedScenes(input: LlmStepInput & { sceneIds: number[]; batch: boolean }): Promise<{ embedded: number; requests: number; cached: number }> {
      const scenes = await repo.summariesOf(input.sceneIds);
      return withActivityContext<{ embedded: number; requests: number; cached: number }, EmbeddingProgress>(async (ctx, progress) => {
        const stored = new Set(progress.previous?.storedSceneIds ?? []);
        const todo = scenes.filter((s) => !stored.has(s.id));
        const countTokens = input.batch ? await batchCounter(input.route, todo.map(sceneEmbeddingText), MAX_TOKENS_PER_REQUEST) : undefined;
        const batches = input.batch ? embeddingBatches(todo, sceneEmbeddingText, { countTokens }) : todo.map((s) => [s]);
        let rows: EmbeddingRow[] = [];
        let lastCheckpoint = Date.now();
        // Scenes whose request the cache answered (in this attempt: an earlier one's are not known).
        let cached = 0;
        for (const batch of batches) {
          const result = await deps.llm.embed(
            {
              purpose: 'embedding',
              provider: input.route.provider,
              model: input.route.model,
              promptVersion: PROMPT_VERSIONS.embedding,
              texts: batch.map(sceneEmbeddingText),
              dimensions: deps.embeddingDimensions,
              useCache: input.useCache,
              refreshCache: input.refreshCache,
            },
            ctx,
          );
          if (result.cached) cached += batch.length;
          batch.forEach((scene, i) =>
            rows.push({ sceneId: scene.id, inputHash: embeddingInputHash(input.route, scene), model: input.route.model, vector: result.vectors[i] }),
          );
          if (Date.now() - lastCheckpoint >= (deps.checkpointEveryMs ?? DEFAULT_CHECKPOINT_EVERY_MS)) {
            await repo.saveEmbeddings(rows);
            for (const row of rows) stored.add(row.sceneId);
            rows = [];
            progress.save({ storedSceneIds: [...stored] });
            lastCheckpoint = Date.now();
          }
        }
        if (rows.length) await repo.saveEmbeddings(rows);
        return { embedded: scenes.length, requests: batches.length, cached };
      }, { deadlineAt: input.deadlineAt, pausesOnOutage: true });
    },
  };
}
