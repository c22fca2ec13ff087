/**
 * Row 5's floor: the same provider calls as a default ingestion, made by a bare in-process
 * script with a concurrency limiter — no Temporal, no database, no cache, no call log. The
 * same adapters (createProviderRegistry: the official SDKs) and prompts hit the same simulator:
 * N summaries at `summaries` concurrency, then outline ∥ sheets at `sheets` concurrency ∥ the
 * embedding requests. What durability costs is the ingestion's wall time minus this.
 */
import type { AppConfig } from '../src/config';
import { CHARACTER_SHEET_SCHEMA } from '../src/domain/ingestion/character-sheet';
import { embeddingBatches } from '../src/domain/ingestion/embedding-batches';
import { characterSheetPrompt, outlinePrompt, sceneEmbeddingText, sceneSummaryPrompt, summariesDigest } from '../src/domain/ingestion/prompts';
import type { ParsedScreenplay } from '../src/domain/screenplay';
import { createProviderRegistry } from '../src/llm/registry';
import { mapLimit } from './limiter';

export interface FloorResult {
  wallMs: number;
  summariesMs: number;
  phase2Ms: number;
  calls: { summary: number; outline: number; sheet: number; embedding: number };
}

export async function floorIngestion(
  config: AppConfig,
  parsed: ParsedScreenplay,
  title: string,
  concurrency: { summaries: number; sheets: number },
): Promise<FloorResult> {
  const registry = createProviderRegistry(config.llm);
  const { models } = config.llm;
  const calls = { summary: 0, outline: 0, sheet: 0, embedding: 0 };
  const t0 = performance.now();

  // Phase 1: every scene's summary, `summaries` at a time.
  const summaryChat = registry.chat(models.summary.provider);
  const summarised = await mapLimit(parsed.scenes, concurrency.summaries, async (scene, i) => {
    calls.summary++;
    const r = await summaryChat.chat({ model: models.summary.model, ...sceneSummaryPrompt({ position: i, heading: scene.heading, text: scene.text }) }, { purpose: 'summary' });
    return { position: i, heading: scene.heading, summary: r.text.trim(), characters: scene.characters };
  });
  const t1 = performance.now();

  // Phase 2: outline ∥ sheets ∥ embeddings.
  const outline = async () => {
    calls.outline++;
    await registry.chat(models.outline.provider).chat({ model: models.outline.model, ...outlinePrompt(title, summariesDigest(summarised)) }, { purpose: 'outline' });
  };
  const speakers = [...new Set(summarised.flatMap((s) => s.characters))];
  const sheets = () =>
    mapLimit(speakers, concurrency.sheets, async (name) => {
      calls.sheet++;
      const scenes = summarised.filter((s) => s.characters.includes(name));
      const r = await registry.chat(models.sheet.provider).chat(
        {
          model: models.sheet.model,
          ...characterSheetPrompt(title, name, scenes),
          jsonSchema: { name: 'character_sheet', schema: CHARACTER_SHEET_SCHEMA as unknown as Record<string, unknown> },
        },
        { purpose: 'sheet' },
      );
      JSON.parse(r.text);
    });
  const embeddings = async () => {
    const provider = registry.embedding(models.embedding.provider);
    for (const batch of embeddingBatches(summarised, sceneEmbeddingText)) {
      calls.embedding++;
      await provider.embed({ model: models.embedding.model, texts: batch.map(sceneEmbeddingText), dimensions: config.llm.embeddingDimensions }, { purpose: 'embedding' });
    }
  };
  await Promise.all([outline(), sheets(), embeddings()]);
  const t2 = performance.now();
  return { wallMs: t2 - t0, summariesMs: t1 - t0, phase2Ms: t2 - t1, calls };
}
