/** Interactive story sessions: the world (state, characters, relationships, memories), turns, and performance metrics. */
import { EntitySchema } from 'typeorm';
import { bigintAsNumber, cascadingForeignKey, timestampDefaultNow } from './columns';

export interface StorySession {
  id: string;
  title: string;
  /** The ingested script the session is tied to (its scenes are searchable, its characters seed the world). */
  scriptId: string | null;
  /** active | ended */
  status: string;
  /** The world state: free-form JSON the model reads (read_state) and changes (update_state, update_world). */
  world: Record<string, unknown>;
  turns: number;
  createdAt: Date;
  updatedAt: Date;
  endedAt: Date | null;
}

export const StorySessionEntity = new EntitySchema<StorySession>({
  name: 'StorySession',
  tableName: 'story_sessions',
  columns: {
    id: { type: 'uuid', primary: true },
    title: { type: 'text' },
    scriptId: { name: 'script_id', type: 'uuid', nullable: true },
    status: { type: 'text' },
    world: { type: 'jsonb', default: () => "'{}'" },
    turns: { type: 'integer', default: 0 },
    createdAt: timestampDefaultNow('created_at'),
    updatedAt: timestampDefaultNow('updated_at'),
    endedAt: { name: 'ended_at', type: 'timestamptz', nullable: true },
  },
  indices: [{ name: 'story_sessions_created_idx', columns: ['createdAt'] }],
});

export interface SessionCharacter {
  id: number;
  sessionId: string;
  name: string;
  description: string;
  traits: string[];
  createdAt: Date;
}

export const SessionCharacterEntity = new EntitySchema<SessionCharacter>({
  name: 'SessionCharacter',
  tableName: 'session_characters',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    sessionId: { name: 'session_id', type: 'uuid' },
    name: { type: 'text' },
    description: { type: 'text', default: () => "''" },
    traits: { type: 'jsonb', default: () => "'[]'" },
    createdAt: timestampDefaultNow('created_at'),
  },
  uniques: [{ name: 'session_characters_session_id_name_key', columns: ['sessionId', 'name'] }],
  foreignKeys: [cascadingForeignKey('session_characters', 'session_id', 'sessionId', 'StorySession')],
});

export interface SessionRelationship {
  id: number;
  sessionId: string;
  source: string;
  target: string;
  kind: string;
}

export const SessionRelationshipEntity = new EntitySchema<SessionRelationship>({
  name: 'SessionRelationship',
  tableName: 'session_relationships',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    sessionId: { name: 'session_id', type: 'uuid' },
    source: { type: 'text' },
    target: { type: 'text' },
    kind: { type: 'text' },
  },
  uniques: [{ name: 'session_relationships_session_id_source_target_key', columns: ['sessionId', 'source', 'target'] }],
  foreignKeys: [cascadingForeignKey('session_relationships', 'session_id', 'sessionId', 'StorySession')],
});

export interface SessionMemory {
  id: number;
  sessionId: string;
  turnNumber: number | null;
  text: string;
  embedding: number[] | null;
  model: string | null;
  createdAt: Date;
}

export const SessionMemoryEntity = new EntitySchema<SessionMemory>({
  name: 'SessionMemory',
  tableName: 'session_memories',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    sessionId: { name: 'session_id', type: 'uuid' },
    turnNumber: { name: 'turn_number', type: 'integer', nullable: true },
    text: { type: 'text' },
    embedding: { type: 'real', array: true, nullable: true },
    model: { type: 'text', nullable: true },
    createdAt: timestampDefaultNow('created_at'),
  },
  indices: [{ name: 'session_memories_session_idx', columns: ['sessionId'] }],
  foreignKeys: [cascadingForeignKey('session_memories', 'session_id', 'sessionId', 'StorySession')],
});

/** One tool call of a turn as stored: what the model asked, what it got, and when it ran. */
export interface StoredToolCall {
  id: string;
  name: string;
  kind: 'read_only' | 'write' | 'unknown';
  step: number;
  arguments: unknown;
  ok: boolean;
  result: unknown;
  startedAt: number;
  durationMs: number;
}

export interface SessionTurn {
  id: number;
  sessionId: string;
  turnNumber: number;
  input: string;
  reply: string | null;
  /** running | completed | failed */
  status: string;
  error: string | null;
  toolCalls: StoredToolCall[];
  timings: Record<string, unknown>;
  startedAt: Date;
  finishedAt: Date | null;
}

export const SessionTurnEntity = new EntitySchema<SessionTurn>({
  name: 'SessionTurn',
  tableName: 'session_turns',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    sessionId: { name: 'session_id', type: 'uuid' },
    turnNumber: { name: 'turn_number', type: 'integer' },
    input: { type: 'text' },
    reply: { type: 'text', nullable: true },
    status: { type: 'text' },
    error: { type: 'text', nullable: true },
    toolCalls: { name: 'tool_calls', type: 'jsonb', default: () => "'[]'" },
    timings: { type: 'jsonb', default: () => "'{}'" },
    startedAt: timestampDefaultNow('started_at'),
    finishedAt: { name: 'finished_at', type: 'timestamptz', nullable: true },
  },
  uniques: [{ name: 'session_turns_session_id_turn_number_key', columns: ['sessionId', 'turnNumber'] }],
  foreignKeys: [cascadingForeignKey('session_turns', 'session_id', 'sessionId', 'StorySession')],
});

/** A write tool's effect, once per (session, turn, tool call): a retried write returns this instead of writing again. */
export interface SessionToolWrite {
  sessionId: string;
  turnNumber: number;
  toolCallId: string;
  toolName: string;
  result: unknown;
  createdAt: Date;
}

export const SessionToolWriteEntity = new EntitySchema<SessionToolWrite>({
  name: 'SessionToolWrite',
  tableName: 'session_tool_writes',
  columns: {
    sessionId: { name: 'session_id', type: 'uuid', primary: true },
    turnNumber: { name: 'turn_number', type: 'integer', primary: true },
    toolCallId: { name: 'tool_call_id', type: 'text', primary: true },
    toolName: { name: 'tool_name', type: 'text' },
    result: { type: 'jsonb' },
    createdAt: timestampDefaultNow('created_at'),
  },
  foreignKeys: [cascadingForeignKey('session_tool_writes', 'session_id', 'sessionId', 'StorySession')],
});

/**
 * What the model was told of the turns that left the prompt's history window: turns 1 to
 * `throughTurn` summarised by an LLM, made once per range (a retry or a later step reads it).
 * Each summary folds the previous one and the turns after it.
 */
export interface SessionSummary {
  sessionId: string;
  throughTurn: number;
  /** The previous summary this one continued (0: none). */
  fromTurn: number;
  summary: string;
  model: string;
  createdAt: Date;
}

export const SessionSummaryEntity = new EntitySchema<SessionSummary>({
  name: 'SessionSummary',
  tableName: 'session_summaries',
  columns: {
    sessionId: { name: 'session_id', type: 'uuid', primary: true },
    throughTurn: { name: 'through_turn', type: 'integer', primary: true },
    fromTurn: { name: 'from_turn', type: 'integer' },
    summary: { type: 'text' },
    model: { type: 'text' },
    createdAt: timestampDefaultNow('created_at'),
  },
  foreignKeys: [cascadingForeignKey('session_summaries', 'session_id', 'sessionId', 'StorySession')],
});

/** One timed operation: an LLM call, a tool execution, a tool batch or a turn (the seed's PerformanceMetrics, durable). */
export interface PerformanceMetric {
  id: number;
  /** Written once per key: a retried activity never counts an operation twice. */
  opKey: string;
  /** llm_call | tool_execution | tool_batch | turn */
  operation: string;
  sessionId: string | null;
  turnNumber: number | null;
  durationMs: number;
  inputTokens: number;
  outputTokens: number;
  toolName: string | null;
  toolKind: string | null;
  ok: boolean;
  errorType: string | null;
  details: object;
  createdAt: Date;
}

export const PerformanceMetricEntity = new EntitySchema<PerformanceMetric>({
  name: 'PerformanceMetric',
  tableName: 'performance_metrics',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    opKey: { name: 'op_key', type: 'text' },
    operation: { type: 'text' },
    sessionId: { name: 'session_id', type: 'uuid', nullable: true },
    turnNumber: { name: 'turn_number', type: 'integer', nullable: true },
    durationMs: { name: 'duration_ms', type: 'double precision' },
    inputTokens: { name: 'input_tokens', type: 'integer', default: 0 },
    outputTokens: { name: 'output_tokens', type: 'integer', default: 0 },
    toolName: { name: 'tool_name', type: 'text', nullable: true },
    toolKind: { name: 'tool_kind', type: 'text', nullable: true },
    ok: { type: 'boolean' },
    errorType: { name: 'error_type', type: 'text', nullable: true },
    details: { type: 'jsonb', default: () => "'{}'" },
    createdAt: timestampDefaultNow('created_at'),
  },
  uniques: [{ name: 'performance_metrics_op_key_key', columns: ['opKey'] }],
  indices: [{ name: 'performance_metrics_operation_idx', columns: ['operation', 'createdAt'] }],
});

/** A measurement window: metrics count operations since the newest window's start (reset opens one; nothing is deleted). */
export interface PerformanceWindow {
  id: number;
  startedAt: Date;
}

export const PerformanceWindowEntity = new EntitySchema<PerformanceWindow>({
  name: 'PerformanceWindow',
  tableName: 'performance_windows',
  columns: {
    id: { type: 'integer', primary: true, generated: 'increment' },
    startedAt: timestampDefaultNow('started_at'),
  },
});

/**
 * Story sessions' prompt settings changed at runtime (one row at most, id 1): a value overrides
 * MAX_CONTEXT_TOKENS or MAX_TURN_HISTORY for every session's next model step and next run; null
 * leaves the environment's value.
 */
export interface SessionSettingsRow {
  id: number;
  maxContextTokens: number | null;
  maxTurnHistory: number | null;
  updatedAt: Date;
}

export const SessionSettingsEntity = new EntitySchema<SessionSettingsRow>({
  name: 'SessionSettings',
  tableName: 'session_settings',
  columns: {
    id: { type: 'smallint', primary: true },
    maxContextTokens: { name: 'max_context_tokens', type: 'integer', nullable: true },
    maxTurnHistory: { name: 'max_turn_history', type: 'integer', nullable: true },
    updatedAt: timestampDefaultNow('updated_at'),
  },
  checks: [
    { name: 'session_settings_singleton', expression: 'id = 1' },
    { name: 'session_settings_max_context_tokens_range', expression: 'max_context_tokens BETWEEN 500 AND 1000000' },
    { name: 'session_settings_max_turn_history_range', expression: 'max_turn_history BETWEEN 0 AND 1000' },
  ],
});
