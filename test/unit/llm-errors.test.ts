import { ApplicationFailure } from '@temporalio/common';
import { retryAfterMs, toLlmFailure } from '../../src/llm/errors';
import { LlmFailureType } from '../../src/shared/failure-types';

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
