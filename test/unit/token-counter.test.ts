/** Token counting: OpenAI's encodings through js-tiktoken, the estimate elsewhere, and batches sized by the counter. */
import { embeddingBatches } from '../../src/domain/ingestion/embedding-batches';
import { estimateTokens } from '../../src/domain/tokens';
import { localCounter } from '../../src/llm/token-counter';

it('counts OpenAI tokens with the model\'s encoding', async () => {
  const chat = await localCounter('openai', 'gpt-4o-mini');
  expect(chat.method).toBe('tiktoken');
  expect(chat.count('hello world')).toBe(2);
  const embedding = await localCounter('openai', 'text-embedding-3-small');
  expect(embedding.count('hello world')).toBe(2);
  // An unlisted model gets o200k_base rather than a failure.
  expect((await localCounter('openai', 'gpt-99-future')).count('hello world')).toBe(2);
});

it('estimates for providers without a local tokenizer (3.5 characters a token, rounded up)', async () => {
  const ollama = await localCounter('ollama', 'llama3');
  expect(ollama.method).toBe('estimate');
  expect(ollama.count('x'.repeat(35))).toBe(10);
  expect(estimateTokens('abcd')).toBe(2);
});

it('sizes embedding batches with the tokenizer it is given', async () => {
  const { count } = await localCounter('openai', 'text-embedding-3-small');
  const texts = Array.from({ length: 10 }, () => `${'word '.repeat(99)}word`);
  // 100 tokens each by the encoding, ~143 by the estimate: a 500-token budget holds 5 or 3.
  expect(count(texts[0])).toBe(100);
  expect(embeddingBatches(texts, (t) => t, { maxTokens: 500, countTokens: count }).map((b) => b.length)).toEqual([5, 5]);
  expect(embeddingBatches(texts, (t) => t, { maxTokens: 500 }).map((b) => b.length)).toEqual([3, 3, 3, 1]);
});
