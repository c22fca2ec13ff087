/**
 * Splits embedding inputs into requests the provider accepts: at most 2,048 inputs and a token
 * budget per request (OpenAI's limits; 300k tokens per request, kept under with a margin).
 */
import { piecesOf } from '../../shared/pieces';
import { estimateTokens, type CountTokens } from '../tokens';

export const MAX_INPUTS_PER_REQUEST = 2048;
export const MAX_TOKENS_PER_REQUEST = 250_000;

export { estimateTokens };

/** `limits.countTokens`: the model's tokenizer when there is one (src/llm/token-counter.ts), else the estimate. */
export function embeddingBatches<T>(
  items: T[],
  textOf: (item: T) => string,
  limits: { maxInputs?: number; maxTokens?: number; countTokens?: CountTokens } = {},
): T[][] {
  const countTokens = limits.countTokens ?? estimateTokens;
  return piecesOf(items, (item) => countTokens(textOf(item)), { maxItems: limits.maxInputs ?? MAX_INPUTS_PER_REQUEST, maxSize: limits.maxTokens ?? MAX_TOKENS_PER_REQUEST });
}

/** Cosine similarity of two vectors of equal length. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}
