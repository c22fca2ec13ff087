import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import { AnthropicChatProvider } from '../../src/llm/anthropic.provider';
import { retryAfterMs, toLlmFailure } from '../../src/llm/errors';
import { OUTAGE_FAILURES } from '../../src/llm/outage-detector';
import { LlmFailureType, NON_RETRYABLE_LLM_FAILURES, RATE_LIMIT_LLM_FAILURES, RUN_FATAL_LLM_FAILURES } from '../../src/shared/failure-types';

function httpError(status: number, message: string, headers: Record<string, string> = {}) {
  return Object.assign(new Error(`${status} ${message}`), { status, headers: new Headers(headers) });
}

describe('retryAfterMs', () => {
  it('prefers retry-after-ms, then retry-after seconds, then an HTTP date', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '1500', 'retry-after': '9' }))).toBe(1500);
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2000);
    const now = Date.parse('2026-11-23T10:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Mon, 23 Nov 2026 10:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(new Headers({}))).toBeUndefined();
  });
});

describe('toLlmFailure', () => {
  const map = (err: unknown) => toLlmFailure(err, 'anthropic', 'claude-x') as ApplicationFailure;

  it('maps 429 to a retryable RateLimited failure that waits what Retry-After says', () => {
    const f = map(httpError(429, 'slow down', { 'retry-after': '3' }));
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f.type).toBe(LlmFailureType.RateLimited);
    expect(f.nonRetryable).toBe(false);
    expect(f.nextRetryDelay).toBe(3000);
  });

  it.each([
    [529, LlmFailureType.Overloaded, false],
    [500, LlmFailureType.Transient, false],
    [503, LlmFailureType.Transient, false],
    [408, LlmFailureType.Timeout, false],
    [400, LlmFailureType.InvalidRequest, true],
    [401, LlmFailureType.Authentication, true],
    [403, LlmFailureType.PermissionDenied, true],
    [404, LlmFailureType.NotFound, true],
  ])('maps status %i to %s (nonRetryable=%s)', (status, type, nonRetryable) => {
    const f = map(httpError(status, 'boom'));
    expect(f.type).toBe(type);
    expect(f.nonRetryable).toBe(nonRetryable);
  });

  it('tells the user what to fix for bad credentials', () => {
    expect(map(httpError(401, 'invalid x-api-key')).message).toMatch(/check ANTHROPIC_API_KEY/);
  });

  it('hides anything shaped like a key in the provider\'s words (OpenAI quotes a rejected key\'s ends), and keeps the rest', () => {
    const message = map(httpError(401, 'Incorrect API key provided: sk-WRONG*****************4444. You can find your API key at https://platform.openai.com/account/api-keys.')).message;
    expect(message).toContain('Incorrect API key provided: [key hidden]. You can find your API key');
    expect(message).not.toMatch(/WRONG|4444/);
    expect(map(httpError(400, 'header Authorization: Bearer abc.def-123 was refused')).message).toContain('header Authorization: [key hidden] was refused');
    expect(map(httpError(400, 'authorization: bearer sk-abc*1 refused')).message).toContain('authorization: [key hidden] refused');
  });

  it('the failure\'s cause (recorded in history with it) carries no key either, and keeps its status', () => {
    const f = map(httpError(401, 'Incorrect API key provided: sk-WRONG*****4444.'));
    const cause = f.cause as Error & { status?: number };
    expect(cause.message).toBe('401 Incorrect API key provided: [key hidden].');
    expect(cause.stack).not.toMatch(/WRONG|4444/);
    expect(cause.status).toBe(401);
  });

  it('keeps words that only look like a key\'s prefix: a model\'s name, "Bearer auth"', () => {
    const message = map(httpError(404, 'model pk-instruct-large not found; use an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)')).message;
    expect(message).toContain('model pk-instruct-large not found; use an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)');
  });

  it('recognises a context-too-long 400', () => {
    const f = map(httpError(400, 'prompt is too long: 250000 tokens > 200000 maximum'));
    expect(f.type).toBe(LlmFailureType.ContextTooLong);
    expect(f.nonRetryable).toBe(true);
  });

  it('maps timeouts and connection errors to retryable failures', () => {
    class APIConnectionTimeoutError extends Error {}
    expect(map(new APIConnectionTimeoutError('Request timed out.')).type).toBe(LlmFailureType.Timeout);
    expect(map(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })).type).toBe(LlmFailureType.Transient);
    expect(map(new SyntaxError('Unexpected end of JSON input')).type).toBe(LlmFailureType.Transient);
  });

  it('passes an abort through unchanged so Temporal sees a cancellation', () => {
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(toLlmFailure(abort, 'openai', 'm')).toBe(abort);
  });
});

describe('toLlmFailure of errors sent mid-stream (HTTP 200, then an error event: the SDK error has no status)', () => {
  // What @anthropic-ai/sdk throws for `event: error` (core/streaming.js): status and message undefined, the body, its type.
  const anthropicEvent = (type: string, message = 'boom') =>
    new Anthropic.APIError(undefined, { type: 'error', error: { type, message } }, undefined, new Headers(), type as ConstructorParameters<typeof Anthropic.APIError>[4]);
  // What openai throws for a `data: {"error": {...}}` chunk: the body's `error` object, no status.
  const openaiChunk = (type: string, code: string | null, message = 'boom') =>
    new OpenAI.APIError(undefined, { message, type, code, param: null }, undefined, new Headers());

  it.each([
    ['overloaded_error', LlmFailureType.Overloaded, false],
    ['rate_limit_error', LlmFailureType.RateLimited, false],
    ['api_error', LlmFailureType.Transient, false],
    ['timeout_error', LlmFailureType.Timeout, false],
    ['invalid_request_error', LlmFailureType.InvalidRequest, true],
    ['authentication_error', LlmFailureType.Authentication, true],
    ['permission_error', LlmFailureType.PermissionDenied, true],
    ['not_found_error', LlmFailureType.NotFound, true],
    ['billing_error', LlmFailureType.InsufficientQuota, true],
  ])('maps Anthropic\'s %s to %s (nonRetryable=%s)', (type, expected, nonRetryable) => {
    const f = toLlmFailure(anthropicEvent(type), 'anthropic', 'claude-x') as ApplicationFailure;
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f.type).toBe(expected);
    expect(f.nonRetryable).toBe(nonRetryable);
    expect(f.message).not.toMatch(/could not be reached/);
  });

  it.each([
    ['server_error', null, 'The server had an error while processing your request.', LlmFailureType.Transient, false],
    ['server_error', null, 'The engine is currently overloaded, please try again later.', LlmFailureType.Overloaded, false],
    ['server_error', 'overloaded', 'Overloaded', LlmFailureType.Overloaded, false],
    ['requests', 'rate_limit_exceeded', 'Rate limit reached', LlmFailureType.RateLimited, false],
    ['insufficient_quota', 'insufficient_quota', 'You exceeded your current quota', LlmFailureType.InsufficientQuota, true],
    ['invalid_request_error', 'context_length_exceeded', 'too long', LlmFailureType.ContextTooLong, true],
    ['invalid_request_error', null, 'bad', LlmFailureType.InvalidRequest, true],
  ])('maps OpenAI\'s type %s, code %s ("%s") to %s (nonRetryable=%s)', (type, code, message, expected, nonRetryable) => {
    const f = toLlmFailure(openaiChunk(type, code, message), 'openai', 'gpt-x') as ApplicationFailure;
    expect(f.type).toBe(expected);
    expect(f.nonRetryable).toBe(nonRetryable);
  });

  it('still maps a connection error (no status, no body) to Transient', () => {
    const f = toLlmFailure(new Anthropic.APIConnectionError({ message: 'Connection error.' }), 'anthropic', 'claude-x') as ApplicationFailure;
    expect(f.type).toBe(LlmFailureType.Transient);
    expect(f.message).toMatch(/could not be reached/);
  });
});

describe('toLlmFailure of an account without credit', () => {
  const openai429 = (type: string, code: string) =>
    OpenAI.APIError.generate(429, { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type, code, param: null } }, undefined, new Headers({ 'retry-after': '20' }));

  it('maps OpenAI\'s 429 insufficient_quota to a non-retryable InsufficientQuota failure that stops the run', () => {
    const f = toLlmFailure(openai429('insufficient_quota', 'insufficient_quota'), 'openai', 'gpt-x') as ApplicationFailure;
    expect(f.type).toBe(LlmFailureType.InsufficientQuota);
    expect(f.nonRetryable).toBe(true);
    expect(f.nextRetryDelay).toBeUndefined();
    expect(f.message).toMatch(/OPENAI_API_KEY/);
    expect(RUN_FATAL_LLM_FAILURES).toContain(LlmFailureType.InsufficientQuota);
    expect(NON_RETRYABLE_LLM_FAILURES).toContain(LlmFailureType.InsufficientQuota);
    expect(RATE_LIMIT_LLM_FAILURES).not.toContain(LlmFailureType.InsufficientQuota);
  });

  it('keeps an ordinary OpenAI 429 a rate limit', () => {
    const f = toLlmFailure(openai429('requests', 'rate_limit_exceeded'), 'openai', 'gpt-x') as ApplicationFailure;
    expect(f.type).toBe(LlmFailureType.RateLimited);
    expect(f.nextRetryDelay).toBe(20_000);
  });

  it('maps Anthropic\'s billing_error and a 402 to InsufficientQuota', () => {
    const billing = Anthropic.APIError.generate(400, { type: 'error', error: { type: 'billing_error', message: 'Your credit balance is too low' } }, undefined, new Headers());
    expect((toLlmFailure(billing, 'anthropic', 'claude-x') as ApplicationFailure).type).toBe(LlmFailureType.InsufficientQuota);
    expect((toLlmFailure(httpError(402, 'payment required'), 'anthropic', 'claude-x') as ApplicationFailure).type).toBe(LlmFailureType.InsufficientQuota);
  });
});

describe('toLlmFailure of a missing API key (the SDK throws before any request: no status)', () => {
  const withoutEnv = async <T>(names: string[], fn: () => Promise<T> | T): Promise<T> => {
    const saved = names.map((n) => [n, process.env[n]] as const);
    for (const n of names) delete process.env[n];
    try {
      return await fn();
    } finally {
      for (const [n, v] of saved) if (v !== undefined) process.env[n] = v;
    }
  };
  const expectRunFatalAuth = (f: ApplicationFailure, keyVar: string) => {
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f.type).toBe(LlmFailureType.Authentication);
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toMatch(new RegExp(`set ${keyVar}`));
    expect(f.message).not.toMatch(/could not be reached/);
    expect(RUN_FATAL_LLM_FAILURES).toContain(f.type);
    expect(OUTAGE_FAILURES).not.toContain(f.type);
  };

  it('maps Anthropic\'s "Could not resolve authentication method" to a run-fatal Authentication failure naming ANTHROPIC_API_KEY', async () => {
    const err = await withoutEnv(['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'], () =>
      new Anthropic({ apiKey: null, baseURL: 'http://127.0.0.1:1', maxRetries: 0 }).messages.create({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] }).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect((err as Error).message).toMatch(/Could not resolve authentication method/);
    expectRunFatalAuth(toLlmFailure(err, 'anthropic', 'claude-x') as ApplicationFailure, 'ANTHROPIC_API_KEY');
  });

  it('maps the openai SDK\'s "Missing credentials" (thrown by its constructor) to a run-fatal Authentication failure naming OPENAI_API_KEY', async () => {
    const err = await withoutEnv(['OPENAI_API_KEY'], () => {
      try {
        new OpenAI({ baseURL: 'http://127.0.0.1:1' });
        return undefined;
      } catch (e) {
        return e;
      }
    });
    expect(err).toBeInstanceOf(OpenAI.OpenAIError);
    expectRunFatalAuth(toLlmFailure(err, 'openai', 'gpt-x') as ApplicationFailure, 'OPENAI_API_KEY');
    // Older openai releases' wording.
    expectRunFatalAuth(
      toLlmFailure(new Error('The OPENAI_API_KEY environment variable is missing or empty; either provide it, or instantiate the OpenAI client with an apiKey option'), 'openai', 'gpt-x') as ApplicationFailure,
      'OPENAI_API_KEY',
    );
  });

  it('maps the Anthropic adapter without a key (plain and streamed calls) to the same failure', async () => {
    const provider = new AnthropicChatProvider({ apiKey: undefined, baseUrl: 'http://127.0.0.1:1', timeoutMs: 5000 });
    const req = { model: 'claude-x', maxTokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] };
    for (const onToken of [undefined, () => undefined]) {
      const err = await withoutEnv(['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'], () =>
        provider.chat(req, { purpose: 'smoke', onToken }).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
      expectRunFatalAuth(toLlmFailure(err, 'anthropic', 'claude-x') as ApplicationFailure, 'ANTHROPIC_API_KEY');
    }
  });
});
