/**
 * Screenplay generation's plain types and names, shared by the workflow, its activities and the
 * CLI. Pure: safe inside the workflow sandbox.
 */
import type { Provider } from './llm-routing';

/** What the seed did is kept behind flags for the benchmark's "before" row; every flag is on by default. */
export interface ScreenplayFlags {
  /** Persona contexts in one query (off: one query per persona). */
  batchPersonaLoad: boolean;
  /** Stream the reply and publish it to watchers (off: one blocking call). */
  stream: boolean;
  /** Story, version and cast in one transaction (off: each committed on its own). */
  oneTransactionSave: boolean;
  /** Answer from the LLM response cache when the same request was answered before. */
  useCache: boolean;
}

export const DEFAULT_SCREENPLAY_FLAGS: ScreenplayFlags = { batchPersonaLoad: true, stream: true, oneTransactionSave: true, useCache: true };

export const DEFAULT_MAX_TOKENS = 3072;
export const MAX_VARIANTS = 10;
/** Variants generated at once (each holds one of the provider's activity slots). */
export const DEFAULT_VARIANTS_IN_FLIGHT = 4;

export interface GenerateScreenplayInput {
  /**
   * The plot itself: runs started by earlier releases, and by clients that store none. A start
   * through storyloom (CLI, API) stores it in `screenplay_requests` under the workflow id and
   * leaves it out, so history carries no plot.
   */
  plot?: string;
  personaNames: string[];
  title?: string;
  /** A new version of this story (default: a new story). */
  storyId?: string;
  maxTokens?: number;
  variants?: number;
  /** Provider and model (default: STORYLOOM_MODEL_SCREENPLAY). */
  model?: { provider: Provider; model: string };
  /** Follow-up calls after a reply cut at max_tokens (default 2); then the version is saved marked truncated. */
  maxContinuations?: number;
  /** Tokens the persona contexts may take together; over it each is trimmed to its share. */
  personaBudgetTokens?: number;
  variantsInFlight?: number;
  flags?: Partial<ScreenplayFlags>;
}

export interface PromptReport {
  promptTokens: number;
  /** How the prompt was counted: the provider's endpoint, its tokenizer, or the estimate. */
  countMethod: 'provider' | 'tiktoken' | 'estimate';
  personaBudgetTokens: number;
  personaTokens: number;
  trimmed: { name: string; tokens: number; keptTokens: number }[];
}

export interface VariantResult {
  variant: number;
  version: number;
  versionId: number;
  /** False when a retried activity found its version already saved. */
  created: boolean;
  truncated: boolean;
  continuations: number;
  parseRetried: boolean;
  scenes: number;
  characters: string[];
  inputTokens: number;
  outputTokens: number;
  /** From the request to the first text delta (the whole call when not streamed). */
  ttftMs: number;
  durationMs: number;
  costUsd: number;
  cached: boolean;
  /** Statements and commits of this variant's save. */
  save: { statements: number; commits: number };
}

export interface GenerateScreenplayResult {
  storyId: string;
  title: string;
  provider: string;
  model: string;
  prompt: PromptReport;
  /** Statements the persona load sent (1 with batchPersonaLoad). */
  personaQueries: number;
  variants: VariantResult[];
  totals: { outputTokens: number; costUsd: number; wallMs: number; firstTokenMs: number; tokensPerSecond: number };
}

export type VariantStatus = 'waiting' | 'generating' | 'saved' | 'failed';

export interface ScreenplayProgress {
  phase: 'preparing' | 'generating' | 'done' | 'failed' | 'cancelled';
  storyId: string | undefined;
  title: string | undefined;
  elapsedMs: number;
  prompt?: PromptReport;
  variants: { variant: number; status: VariantStatus; version?: number; truncated?: boolean; outputTokens?: number }[];
}

/** What a generation activity heartbeats: live figures for the Web UI's pending activity. */
export interface GenerationHeartbeat {
  variant: number;
  tokens: number;
  scenes: number;
  phase: 'waiting-first-token' | 'streaming' | 'continuing' | 'retrying-parse' | 'saving';
}

/** Failure types of the generation (non-retryable ones fail the run at once). */
export const ScreenplayFailureType = {
  UnknownPersona: 'UnknownPersona',
  StoryNotFound: 'StoryNotFound',
  InvalidScreenplay: 'InvalidScreenplay',
  /** The run's input has no plot and none was stored under its workflow id. */
  PlotNotFound: 'PlotNotFound',
} as const;

export function screenplayWorkflowId(unique: string): string {
  return `screenplay-${unique}`;
}
