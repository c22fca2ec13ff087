/**
 * Ingestion's LLM activities; they run on the provider's task queue. Each loads what it needs
 * by id (payloads carry ids, never script text) and either returns a small result for the
 * workflow to write in batches, or writes its own rows idempotently (outline, embeddings).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { EmbeddingRow, IngestionRepository, SheetRow, SummaryRow } from '../db/repositories/ingestion.repository';
import { parseCharacterSheet, CHARACTER_SHEET_SCHEMA } from '../domain/ingestion/character-sheet';
import { embeddingBatches } from '../domain/ingestion/embedding-batches';
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
import type { CallContext, LlmService } from '../llm/llm-service';
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
}

export interface LlmStepInput {
  route: LlmRoute;
  useCache: boolean;
  /** A full run's fresh answers: no cache reads, the answers are still stored. */
  refreshCache?: boolean;
}

type CachePolicy = Pick<LlmStepInput, 'useCache' | 'refreshCache'>;

function chat(deps: AnalysisDeps, purpose: string, route: LlmRoute, promptVersion: string, prompt: PromptSpec, cache: CachePolicy, ctx: CallContext, jsonSchema?: { name: string; schema: Record<string, unknown> }) {
  return deps.llm.chat(
    { purpose, provider: route.provider, model: route.model, promptVersion, request: { ...prompt, jsonSchema }, useCache: cache.useCache, refreshCache: cache.refreshCache },
    ctx,
  );
}

export function createAnalysisActivities(deps: AnalysisDeps) {
  const { repo } = deps;
  return {
    /** Summarises one scene; returns the row for the workflow's next batched write. */
    async summarizeScene(input: LlmStepInput & { sceneId: number }): Promise<SummaryRow & { cached: boolean }> {
      const scene = await repo.sceneForSummary(input.sceneId);
      return withActivityContext(async (ctx) => {
        const result = await chat(deps, 'summary', input.route, PROMPT_VERSIONS.summary, sceneSummaryPrompt(scene), input, ctx);
        return {
          sceneId: input.sceneId,
          contentHash: scene.contentHash,
          model: input.route.model,
          promptVersion: PROMPT_VERSIONS.summary,
          summary: result.text.trim(),
          cached: result.cached,
        };
      });
    },

    /**
     * Writes the outline from every summary: one call, or — when the summaries exceed the
     * model's context budget — one call per section, then one over the section outlines.
     */
    async writeOutline(input: LlmStepInput & { scriptId: string; title: string }): Promise<{ sections: number; calls: number }> {
      const scenes = await repo.summariesInOrder(input.scriptId);
      return withActivityContext(async (ctx) => {
        const sections = embeddingBatches(scenes, (s) => `${s.heading}: ${s.summary}`, { maxInputs: Infinity, maxTokens: deps.outlineContextTokens });
        let digest: string;
        if (sections.length <= 1) {
          digest = summariesDigest(scenes);
        } else {
          const parts = await Promise.all(
            sections.map((section, i) =>
              chat(deps, 'outline', input.route, PROMPT_VERSIONS.outlineSection,
                outlineSectionPrompt(input.title, i + 1, sections.length, summariesDigest(section)), input, ctx),
            ),
          );
          digest = parts.map((p, i) => `Part ${i + 1}:\n${p.text.trim()}`).join('\n\n');
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
        return { sections: Math.max(1, sections.length), calls: sections.length > 1 ? sections.length + 1 : 1 };
      });
    },

    /**
     * A character sheet as structured JSON, validated against its schema; an invalid answer is
     * a retryable failure (the next attempt bypasses nothing: invalid answers are never cached).
     */
    async generateCharacterSheet(input: LlmStepInput & { characterId: number }): Promise<SheetRow & { cached: boolean }> {
      const character = await repo.characterWithScenes(input.characterId);
      return withActivityContext(async (ctx) => {
        const result = await chat(deps, 'sheet', input.route, PROMPT_VERSIONS.sheet,
          characterSheetPrompt(character.title, character.name, character.scenes), input, ctx,
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
        };
      });
    },

    /**
     * Embeds the scenes' summaries — one request per ≤ 2,048 inputs within a token budget, or
     * one per scene when `batch` is off — and writes every vector in one transaction.
     */
    async embedScenes(input: LlmStepInput & { sceneIds: number[]; batch: boolean }): Promise<{ embedded: number; requests: number }> {
      const scenes = await repo.summariesOf(input.sceneIds);
      return withActivityContext(async (ctx) => {
        const batches = input.batch ? embeddingBatches(scenes, sceneEmbeddingText) : scenes.map((s) => [s]);
        const rows: EmbeddingRow[] = [];
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
          batch.forEach((scene, i) =>
            rows.push({ sceneId: scene.id, inputHash: embeddingInputHash(input.route, scene), model: input.route.model, vector: result.vectors[i] }),
          );
        }
        await repo.saveEmbeddings(rows);
        return { embedded: rows.length, requests: batches.length };
      });
    },
  };
}
