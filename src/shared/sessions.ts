/**
 * Story sessions: names, message payloads and the tool kinds, shared by the workflow, the
 * activities and the CLI. Pure: safe inside the workflow sandbox.
 */
import { oneLineProblem } from './one-line';

/** Safe to run concurrently: they only read the world. */
export const READ_ONLY_TOOLS = ['read_state', 'search_memories', 'query_relationships', 'semantic_search', 'stateful_read'] as const;
/** Side effects: run one after another, in the order the model gave, each at most once per (turn, tool call). */
export const WRITE_TOOLS = ['add_memory', 'update_state', 'update_world', 'create_character', 'batch_memory'] as const;
export type ReadOnlyTool = (typeof READ_ONLY_TOOLS)[number];
export type WriteTool = (typeof WRITE_TOOLS)[number];
export type ToolName = ReadOnlyTool | WriteTool;
export type ToolKind = 'read_only' | 'write' | 'unknown';

export function toolKind(name: string): ToolKind {
  if ((READ_ONLY_TOOLS as readonly string[]).includes(name)) return 'read_only';
  if ((WRITE_TOOLS as readonly string[]).includes(name)) return 'write';
  return 'unknown';
}

/** The longest player input a turn takes. */
export const MAX_TURN_INPUT_CHARS = 4000;

/** The most output tokens a session step's reply may have (its request's max_tokens; its activity's limit is sized by it). */
export const SESSION_REPLY_MAX_TOKENS = 1024;

export function sessionWorkflowId(sessionId: string): string {
  return `session-${sessionId}`;
}

/**
 * The name of one turn's reply stream (src/db/stream-channel.ts): the session and the takeTurn
 * Update's id, which the client chooses, so it listens before it sends the turn.
 */
export function turnStreamKey(sessionId: string, updateId: string): string {
  return `${sessionWorkflowId(sessionId)}/turn/${updateId}`;
}

/**
 * The last turn a summary should cover before turn `turnNumber`: the turns that have left the
 * history window of `maxTurnHistory` turns (0: none yet).
 */
export function summaryThroughFor(turnNumber: number, maxTurnHistory: number): number {
  return Math.max(0, turnNumber - 1 - maxTurnHistory);
}

/** Why an input is refused (undefined when it is fine): the takeTurn validator's message. */
export function turnInputProblem(input: unknown): string | undefined {
  const text = (input as { text?: unknown } | undefined)?.text;
  if (typeof text !== 'string' || text.trim() === '') return 'A turn needs some text: type what your character does or says.';
  if (text.length > MAX_TURN_INPUT_CHARS) return `A turn takes at most ${MAX_TURN_INPUT_CHARS} characters (got ${text.length}); say it in shorter turns.`;
  // Postgres cannot store it: refused here, not by the turn's write after its calls were paid.
  if (text.includes('\u0000')) return 'A turn cannot hold a NUL character (U+0000).';
  return undefined;
}

/** The most characters a session's title has (the API's `title`, `play --title`). */
export const MAX_SESSION_TITLE_CHARS = 200;

/** What is wrong with a title given for a new session, or undefined: blank, too long, or more than one line (control characters). */
export function sessionTitleProblem(title: string): string | undefined {
  if (!title.trim()) return 'must not be blank (leave it out for "Untitled story")';
  if (title.length > MAX_SESSION_TITLE_CHARS) return `has ${title.length} characters; the limit is ${MAX_SESSION_TITLE_CHARS}`;
  return oneLineProblem(title);
}

/** A short, readable summary of a tool call for the Web UI: `tool: search_memories "the lighthouse"`. */
export function toolSummary(name: string, args: unknown): string {
  const a = (args && typeof args === 'object' ? args : {}) as Record<string, unknown>;
  const first = ['query', 'text', 'name', 'path', 'character', 'topic'].map((k) => a[k]).find((v) => typeof v === 'string' && v);
  const detail = typeof first === 'string' ? ` "${first.length > 60 ? `${first.slice(0, 57)}...` : first}"` : '';
  return `tool: ${name}${detail}`;
}

export interface StorySessionInput {
  sessionId: string;
  title: string;
  scriptId?: string | null;
  /** Set by the workflow itself when it continues as new. */
  carried?: SessionCarriedState;
}

export interface SessionCarriedState {
  turns: number;
  startedAt: number;
  runIds: string[];
}

export interface TurnInput {
  text: string;
  /**
   * The title and script a client gave the session it believes this turn starts (only what it
   * gave): the run refuses the turn when its session has others (two first turns sent at once
   * under different titles: the one that started the run keeps it, the other is refused rather
   * than taken under a title it did not give).
   */
  newSession?: { title?: string; scriptId?: string | null };
}

/** Why a turn that names its session's title or script is refused by a run with others, or undefined when they agree. */
export function sessionMismatch(run: { sessionId: string; title: string; scriptId?: string | null }, asked: TurnInput['newSession']): string | undefined {
  const titleDiffers = asked?.title !== undefined && asked.title !== run.title;
  const scriptDiffers = asked?.scriptId !== undefined && (asked.scriptId ?? null) !== (run.scriptId ?? null);
  if (!titleDiffers && !scriptDiffers) return undefined;
  return `Session ${run.sessionId} exists: its title and script were set when it started ("${run.title}"); leave title and scriptId out of its turns.`;
}

/** One tool call of a turn, as the turn's answer reports it. */
export interface TurnToolCall {
  id: string;
  name: string;
  kind: ToolKind;
  step: number;
  ok: boolean;
  durationMs: number;
}

/** What a turn took: the figures the CLI's dim line shows. */
export interface TurnMetrics {
  tools: number;
  readOnly: number;
  writes: number;
  /** Wall time of the read-only phases (tools in parallel), summed over steps. */
  readOnlyMs: number;
  /** Wall time of the write phases (one after another), summed over steps. */
  writeMs: number;
  llmCalls: number;
  llmMs: number;
  steps: number;
  turnMs: number;
}

export interface TurnResult {
  sessionId: string;
  turnNumber: number;
  reply: string;
  toolCalls: TurnToolCall[];
  metrics: TurnMetrics;
  /** True when the turn stopped at maxToolSteps rounds of tool calls. */
  stepLimitReached: boolean;
}

export interface SessionProgress {
  sessionId: string;
  title: string;
  status: 'idle' | 'taking_turn' | 'ended';
  turns: number;
  /** Turns waiting behind the current one. */
  queued: number;
  currentTurn?: { turnNumber: number; step: number; phase: 'llm' | 'tools' };
  lastTurn?: { turnNumber: number; metrics: TurnMetrics };
}

export interface SessionEnded {
  sessionId: string;
  /** Turns taken when the session was asked to end. */
  turns: number;
  /** Turns sent before the end and not yet taken (the one in flight included): the session ends after them. */
  pending?: number;
}

/** The failure type of a turn refused because its session has ended (the run's validator, or the start of a run for an ended session). */
export const SESSION_ENDED = 'SessionEnded';
