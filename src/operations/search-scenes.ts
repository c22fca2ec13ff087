/**
 * Scenes ranked by the similarity of their embedding to a query's. Shared by `storyloom search`
 * and `GET /api/scripts/:id/search`. The query's embedding is one cached call through the LLM service.
 */
import { AnalysisRepository } from '../db/repositories/analysis.repository';
import { cosineSimilarity } from '../domain/ingestion/embedding-batches';
import type { LlmService } from '../llm/llm-service';
import { OperationError, type OperationContext } from './context';

export interface SceneMatch {
  score: number;
  /** 0-based. */
  position: number;
  heading: string;
  summary: string;
}

export async function searchScenes(
  ctx: OperationContext,
  llm: LlmService,
  script: { id: string; title: string },
  query: string,
  limit: number,
): Promise<SceneMatch[]> {
  const rows = await new AnalysisRepository(await ctx.db()).embeddedScenes(script.id);
  if (!rows.length) throw new OperationError('conflict', `"${script.title}" has no embeddings yet: run \`storyloom ingest ${script.id} --wait\` first.`);
  const route = ctx.config.llm.models.embedding;
  const { vectors } = await llm.embed({
    purpose: 'embedding', provider: route.provider, model: route.model, promptVersion: 'search-query-v1',
    texts: [query], dimensions: ctx.config.llm.embeddingDimensions, useCache: true,
  });
  return rows
    .filter((r) => r.model === route.model && r.embedding.length === vectors[0].length)
    .map((r) => ({ score: cosineSimilarity(vectors[0], r.embedding), position: r.position, heading: r.heading, summary: r.summary }))
    .sort((a, b) => b.score - a.score)
    .slice(0, limit);
}
