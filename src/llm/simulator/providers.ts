/** Per-provider protocol details shared by the routes: error body shapes and where the API key travels. */
import type { IncomingHttpHeaders } from 'node:http';
import type { Provider } from './types';

/** `insufficient_quota`: the account has no credit left (OpenAI's 429 `insufficient_quota`, Anthropic's `billing_error`). */
export type ErrorKind = 'server' | 'overloaded' | 'rate_limit' | 'invalid_request' | 'authentication' | 'not_found' | 'insufficient_quota';

const ANTHROPIC_TYPES: Record<ErrorKind, string> = {
  server: 'api_error',
  overloaded: 'overloaded_error',
  rate_limit: 'rate_limit_error',
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  not_found: 'not_found_error',
  insufficient_quota: 'billing_error',
};

const OPENAI_TYPES: Record<ErrorKind, { type: string; code: string | null }> = {
  server: { type: 'server_error', code: null },
  overloaded: { type: 'server_error', code: 'overloaded' },
  rate_limit: { type: 'requests', code: 'rate_limit_exceeded' },
  invalid_request: { type: 'invalid_request_error', code: null },
  authentication: { type: 'invalid_request_error', code: 'invalid_api_key' },
  not_found: { type: 'invalid_request_error', code: 'not_found' },
  insufficient_quota: { type: 'insufficient_quota', code: 'insufficient_quota' },
};

/** Body shaped like the real provider's, so each SDK raises its own error class. */
export function errorBody(provider: Provider, kind: ErrorKind, message: string, requestId: string): unknown {
  switch (provider) {
    case 'anthropic':
      return { type: 'error', error: { type: ANTHROPIC_TYPES[kind], message }, request_id: requestId };
    case 'openai':
      return { error: { message, ...OPENAI_TYPES[kind], param: null } };
    case 'ollama':
      return { error: message };
  }
}

/**
 * The event a provider sends when a stream fails after its HTTP 200, in its wire format:
 * Anthropic an SSE `event: error` whose data is the error body, OpenAI a `data:` chunk holding
 * only `error`, Ollama an NDJSON line `{"error": "..."}`. The SDKs throw on it mid-iteration.
 */
export function streamErrorFrame(provider: Provider, kind: ErrorKind, message: string, requestId: string): string {
  const body = errorBody(provider, kind, message, requestId);
  switch (provider) {
    case 'anthropic':
      return `event: error\ndata: ${JSON.stringify(body)}\n\n`;
    case 'openai':
      return `data: ${JSON.stringify(body)}\n\n`;
    case 'ollama':
      return `${JSON.stringify(body)}\n`;
  }
}

/** Anthropic sends `x-api-key` (SDK 1.x sends `Authorization: Bearer` instead); the others use Bearer. */
export function apiKeyFrom(provider: Provider, headers: IncomingHttpHeaders): string | undefined {
  const xKey = headers['x-api-key'];
  if (provider === 'anthropic' && typeof xKey === 'string' && xKey) return xKey;
  const auth = headers.authorization;
  const m = typeof auth === 'string' ? /^Bearer\s+(.+)$/i.exec(auth.trim()) : null;
  return m ? m[1] : undefined;
}

/** Response header carrying the request id, by provider convention. */
export function requestIdHeader(provider: Provider): string {
  return provider === 'openai' ? 'x-request-id' : 'request-id';
}
