/**
 * The documented token estimate, for providers with no tokenizer we can run or call (Ollama's
 * models, and any count taken without a provider at hand): one token per 3.5 characters, which
 * errs high for English prose (OpenAI's and Anthropic's tokenizers give ~4 characters a token).
 */
export const ESTIMATE_CHARS_PER_TOKEN = 3.5;

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / ESTIMATE_CHARS_PER_TOKEN);
}

/** Counts the tokens of a text (a tokenizer, or estimateTokens). */
export type CountTokens = (text: string) => number;
