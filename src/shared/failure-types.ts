/**
 * Stable `ApplicationFailure.type` names for provider errors. Workflows use them in retry
 * policies (`nonRetryableErrorTypes`) and the call log records them. Pure module.
 */
export const LlmFailureType = {
  /** 429: the next attempt waits what Retry-After says. */
  RateLimited: 'LlmRateLimited',
  /** 529 (Anthropic) or 503 overload. */
  Overloaded: 'LlmOverloaded',
  /** 5xx, connection reset, malformed response body. */
  Transient: 'LlmTransient',
  /** The request took longer than the client timeout. */
  Timeout: 'LlmTimeout',
  InvalidRequest: 'LlmInvalidRequest',
  Authentication: 'LlmAuthentication',
  PermissionDenied: 'LlmPermissionDenied',
  NotFound: 'LlmNotFound',
  ContextTooLong: 'LlmContextTooLong',
  /** Structured output that does not satisfy its schema (retryable: the model may do better). */
  InvalidOutput: 'LlmInvalidOutput',
} as const;
export type LlmFailureType = (typeof LlmFailureType)[keyof typeof LlmFailureType];

export const RETRYABLE_LLM_FAILURES: readonly LlmFailureType[] = [
  LlmFailureType.RateLimited,
  LlmFailureType.Overloaded,
  LlmFailureType.Transient,
  LlmFailureType.Timeout,
  LlmFailureType.InvalidOutput,
];

export const NON_RETRYABLE_LLM_FAILURES: readonly LlmFailureType[] = [
  LlmFailureType.InvalidRequest,
  LlmFailureType.Authentication,
  LlmFailureType.PermissionDenied,
  LlmFailureType.NotFound,
  LlmFailureType.ContextTooLong,
];

/** Failures that will fail every other item the same way: a run stops at the first one. */
export const RUN_FATAL_LLM_FAILURES: readonly LlmFailureType[] = [
  LlmFailureType.Authentication,
  LlmFailureType.PermissionDenied,
  LlmFailureType.NotFound,
];
