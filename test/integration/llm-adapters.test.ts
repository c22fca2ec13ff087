/**
 * The provider adapters through the official SDKs against the simulator over HTTP, and the
 * mapping of each provider error to a Temporal failure.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MemoryCallLog } from '../../src/llm/call-log';
import { LlmService } from '../../src/llm/llm-service';
import { MemoryCacheStore } from '../../src/llm/response-cache';
import { createProviderRegistry } from '../../src/llm/registry';
import { AnthropicChatProvider } from '../../src/llm/anthropic.provider';
import { OllamaProvider } from '../../src/llm/ollama.provider';
import { OpenAIProvider } from '../../src/llm/openai.provider';
import type { ChatProvider, ChatRequest } from '../../src/llm/types';
import { LlmFailureType, NON_RETRYABLE_LLM_FAILURES, RUN_FATAL_LLM_FAILURES } from '../../src/shared/failure-types';
import type { Provider } from '../../src/shared/llm-routing';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { testConfig } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const SCENE = 'INT. LIGHTHOUSE - NIGHT. Mara climbs the spiral stairs. The lamp is dark. She strikes a match and the storm answers.';
const request = (model: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model,
  system: 'Summarise.',
  messages: [{ role: 'user', content: SCENE }],
  maxTokens: 100,
  ...extra,
});
const MODELS: Record<Provider, string> = { anthropic: 'claude-haiku-4-5', openai: 'gpt-4o-mini', ollama: 'llama3.2' };
/** A provider's chat adapter with its own client timeout (the registry's is the service's + 5 s). */
function chatAdapter(provider: Provider, timeoutMs: number): ChatProvider {
  if (provider === 'anthropic') return new AnthropicChatProvider({ apiKey: 'test-anthropic-key', baseUrl: sim.url, timeoutMs });
  if (provider === 'openai') return new OpenAIProvider({ apiKey: 'test-openai-key', baseUrl: `${sim.url}/v1`, timeoutMs });
  return new OllamaProvider({ apiKey: undefined, baseUrl: sim.url, timeoutMs });
}
const CHAT_PROVIDERS: Provider[] = ['anthropic', 'openai', 'ollama'];

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ retryAfterMs: 1500 });
});
afterAll(() => sim.close());
beforeEach(() => {
  sim.configure({ faults: [], apiKeys: null });
  sim.resetStats();
});

const registry = (env: Record<string, string> = {}) => createProviderRegistry(testConfig(sim, { DATABASE_URL: 'postgres://unused/x', ...env }).llm);

/** A call through the LLM service (in-memory cache and log), which maps errors and owns the timeout. */
async function failureOf(provider: Provider, env: Record<string, string> = {}): Promise<ApplicationFailure> {
  const service = new LlmService({
    registry: registry(env),
    cache: new MemoryCacheStore(),
    callLog: new MemoryCallLog(),
    requestTimeoutMs: Number(env.STORYLOOM_LLM_TIMEOUT_MS ?? 5000),
  });
  try {
    await service.chat({ purpose: 'test', provider, model: MODELS[provider], promptVersion: 'v1', request: request(MODELS[provider]), useCache: false });
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected the call to fail');
}

describe.each(CHAT_PROVIDERS)('%s chat', (provider) => {
  it('returns text, usage and the model, and tags the purpose', async () => {
    const result = await registry().chat(provider).chat(request(MODELS[provider]), { purpose: 'summary' });
    expect(result.text.length).toBeGreaterThan(10);
    expect(result.model).toBe(MODELS[provider]);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect(sim.stats().byPurpose.summary.requests).toBe(1);
  });

  it('streams the same text token by token', async () => {
    const whole = await registry().chat(provider).chat(request(MODELS[provider]), { purpose: 'summary' });
    const deltas: string[] = [];
    const streamed = await registry().chat(provider).chat(request(MODELS[provider]), { purpose: 'summary', onToken: (d) => deltas.push(d) });
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(streamed.text);
    expect(streamed.text).toBe(whole.text);
    expect(streamed.usage.outputTokens).toBe(whole.usage.outputTokens);
  });

  it('returns JSON satisfying a requested schema', async () => {
    const schema = { type: 'object', required: ['role', 'traits'], properties: { role: { type: 'string' }, traits: { type: 'array', items: { type: 'string' }, minItems: 1 } }, additionalProperties: false };
    const result = await registry().chat(provider).chat(request(MODELS[provider], { jsonSchema: { name: 'sheet', schema } }), { purpose: 'sheet' });
    const parsed = JSON.parse(result.text);
    expect(typeof parsed.role).toBe('string');
    expect(parsed.traits.length).toBeGreaterThan(0);
  });

  it('maps 429 to RateLimited, retryable after what Retry-After says', async () => {
    sim.configure({ faults: [{ kind: 'http429', retryAfterMs: 2500 }] });
    const f = await failureOf(provider);
    expect(f.type).toBe(LlmFailureType.RateLimited);
    expect(f.nonRetryable).toBe(false);
    // Ollama's SDK drops response headers, so no delay is known there: Temporal's backoff applies.
    if (provider === 'ollama') expect(f.nextRetryDelay).toBeUndefined();
    else expect(f.nextRetryDelay).toBe(2500);
  });

  it.each([
    ['http500', LlmFailureType.Transient, false],
    ['http400', LlmFailureType.InvalidRequest, true],
    ['malformed', LlmFailureType.Transient, false],
  ] as const)('maps the %s fault to %s', async (kind, type, nonRetryable) => {
    sim.configure({ faults: [{ kind }] });
    const f = await failureOf(provider);
    expect(f.type).toBe(type);
    expect(f.nonRetryable).toBe(nonRetryable);
  });

  it('lets a stream that keeps flowing run past the request timeout: the timeout is its silence, not its length', async () => {
    // 40 ms a token: the whole answer takes several times the 300 ms timeout, no gap near it
    // (a purpose of its own, so the other tests keep their latencies).
    sim.configure({ latency: { byPurpose: { 'long-stream': { fixedMs: 0, perOutputTokenMs: 40 } } } });
    const cache = new MemoryCacheStore();
    const callLog = new MemoryCallLog();
    const service = new LlmService({ registry: registry(), cache, callLog, requestTimeoutMs: 300 });
    const deltas: string[] = [];
    const call = { purpose: 'long-stream', provider, model: MODELS[provider], promptVersion: 'v1', request: request(MODELS[provider]), useCache: true };
    const started = Date.now();
    const result = await service.chat(call, { onToken: (d) => deltas.push(d) });
    expect(Date.now() - started).toBeGreaterThan(600);
    expect(deltas.join('')).toBe(result.text);
    expect(callLog.rows.map((r) => r.outcome)).toEqual(['ok']);
    expect(cache.entries.size).toBe(1);
  });

  it('fails a stream that goes silent half-way as a Timeout, never as a short answer, and caches nothing', async () => {
    sim.configure({ faults: [{ kind: 'streamStall' }] });
    const cache = new MemoryCacheStore();
    const callLog = new MemoryCallLog();
    const service = new LlmService({ registry: registry(), cache, callLog, requestTimeoutMs: 300 });
    const deltas: string[] = [];
    const call = { purpose: 'stalled-stream', provider, model: MODELS[provider], promptVersion: 'v1', request: request(MODELS[provider]), useCache: true };
    const failure = await service.chat(call, { onToken: (d) => deltas.push(d) }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(deltas.length).toBeGreaterThan(0);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe(LlmFailureType.Timeout);
    expect((failure as ApplicationFailure).message).toContain('stopped streaming its answer for 300 ms');
    // Billed for what it streamed: the row carries those tokens, estimated.
    expect(callLog.rows.map((r) => [r.outcome, r.outputTokens > 0])).toEqual([['error', true]]);
    expect(cache.entries.size).toBe(0);
    await waitFor(() => sim.stats().aborted === 1, 5000);
  });

  it("has the SDK client's own timeout bound the wait for an answer's start, not a stream that flows", async () => {
    // The adapters' client timeout is a backstop to the service's timer (the Anthropic and OpenAI
    // SDKs time the response's headers only; the Ollama adapter does the same).
    sim.configure({ latency: { byPurpose: { 'long-stream': { fixedMs: 0, perOutputTokenMs: 40 } } } });
    const adapter = chatAdapter(provider, 300);
    const deltas: string[] = [];
    const result = await adapter.chat(request(MODELS[provider]), { purpose: 'long-stream', onToken: (d) => deltas.push(d) });
    expect(deltas.join('')).toBe(result.text);
    expect(result.usage.outputTokens).toBeGreaterThan(15);
    sim.configure({ faults: [{ kind: 'hang' }] });
    const started = Date.now();
    await expect(adapter.chat(request(MODELS[provider]), { purpose: 'hung' })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('maps a hang past the client timeout to a retryable Timeout, and the request is aborted', async () => {
    sim.configure({ faults: [{ kind: 'hang' }] });
    const f = await failureOf(provider, { STORYLOOM_LLM_TIMEOUT_MS: '300' });
    expect(f.type).toBe(LlmFailureType.Timeout);
    expect(f.nonRetryable).toBe(false);
    await waitFor(() => sim.stats().aborted === 1, 5000);
  });
});

describe('provider-specific errors', () => {
  it('maps Anthropic 529 to Overloaded (retryable)', async () => {
    sim.configure({ faults: [{ kind: 'http529' }] });
    const f = await failureOf('anthropic');
    expect(f.type).toBe(LlmFailureType.Overloaded);
    expect(f.nonRetryable).toBe(false);
  });

  it('maps OpenAI\'s 429 insufficient_quota (no credit left) to a non-retryable failure that stops the run, never to a rate limit', async () => {
    sim.configure({ faults: [{ kind: 'http429Quota' }] });
    const f = await failureOf('openai');
    expect(f.type).toBe(LlmFailureType.InsufficientQuota);
    expect(f.nonRetryable).toBe(true);
    expect(f.nextRetryDelay).toBeUndefined();
    expect(f.message).toMatch(/quota|credit|billing/i);
    expect(NON_RETRYABLE_LLM_FAILURES).toContain(LlmFailureType.InsufficientQuota);
    expect(RUN_FATAL_LLM_FAILURES).toContain(LlmFailureType.InsufficientQuota);
    expect(sim.stats().byRoute['openai.chat'].errors).toEqual({ http429Quota: 1 });
  });

  it.each(['anthropic', 'openai'] as const)('maps %s bad credentials to a non-retryable Authentication failure that says what to fix', async (provider) => {
    sim.configure({ apiKeys: { [provider]: 'the-right-key' } });
    const f = await failureOf(provider);
    expect(f.type).toBe(LlmFailureType.Authentication);
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain(provider === 'anthropic' ? 'check ANTHROPIC_API_KEY' : 'check OPENAI_API_KEY');
  });

  it('aborts the HTTP request when the caller aborts', async () => {
    sim.configure({ faults: [{ kind: 'hang' }] });
    const controller = new AbortController();
    const call = registry().chat('anthropic').chat(request(MODELS.anthropic), { purpose: 'test', signal: controller.signal });
    await waitFor(() => sim.stats().currentConcurrent === 1, 5000);
    controller.abort();
    await expect(call).rejects.toThrow();
    await waitFor(() => sim.stats().aborted === 1 && sim.stats().currentConcurrent === 0, 5000);
  });
});

describe('errors in the middle of a stream', () => {
  it.each(['anthropic', 'openai'] as const)('maps an overload %s sends after HTTP 200, mid-stream, to Overloaded (waited out, not an outage)', async (provider) => {
    sim.configure({ faults: [{ kind: 'streamError' }] });
    const callLog = new MemoryCallLog();
    const cache = new MemoryCacheStore();
    const service = new LlmService({ registry: registry(), cache, callLog, requestTimeoutMs: 5000 });
    const deltas: string[] = [];
    const call = { purpose: 'test', provider, model: MODELS[provider], promptVersion: 'v1', request: request(MODELS[provider]), useCache: true };
    const failure = await service.chat(call, { onToken: (d) => deltas.push(d) }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(deltas.length).toBeGreaterThan(0); // the error came after some of the answer
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: LlmFailureType.Overloaded, nonRetryable: false });
    expect((failure as ApplicationFailure).message).toMatch(/overloaded/i);
    expect(callLog.rows.map((r) => [r.outcome, r.errorType])).toEqual([['error', LlmFailureType.Overloaded]]);
    expect(cache.entries.size).toBe(0);
    expect(sim.stats().byRoute[provider === 'anthropic' ? 'anthropic.messages' : 'openai.chat'].errors).toEqual({ streamError: 1 });
  });

  it('leaves a request that does not stream alone', async () => {
    sim.configure({ faults: [{ kind: 'streamError', times: 1 }] });
    const result = await registry().chat('anthropic').chat(request(MODELS.anthropic), { purpose: 'test' });
    expect(result.text.length).toBeGreaterThan(10);
    expect(sim.stats()).toMatchObject({ ok: 1, totalRequests: 1 });
  });
});

describe.each(['openai', 'ollama'] as const)('%s embeddings', (provider) => {
  it('embeds many texts in one request, with the configured dimensions, similar texts closer', async () => {
    const texts = ['the storm hits the lighthouse', 'a storm over the lighthouse', 'tax forms and spreadsheets'];
    const result = await registry({ STORYLOOM_EMBEDDING_DIMENSIONS: '64' })
      .embedding(provider)
      .embed({ model: 'embed-model', texts, dimensions: 64 }, { purpose: 'embedding' });
    expect(result.vectors).toHaveLength(3);
    expect(result.vectors.every((v) => v.length === 64)).toBe(true);
    const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
    expect(dot(result.vectors[0], result.vectors[1])).toBeGreaterThan(dot(result.vectors[0], result.vectors[2]));
    expect(sim.stats().byRoute[provider === 'openai' ? 'openai.embeddings' : 'ollama.embed'].requests).toBe(1);
  });
});
