/**
 * Story session activities: the session's LLM step (native tool calling, on the provider's
 * queue), the ten tools (main queue; each validates its arguments against its JSON schema and
 * answers an error result instead of throwing), the turn's bookkeeping, and the performance
 * metrics of every LLM call, tool execution, tool batch and turn (Postgres, Prometheus and one
 * log line per tool batch and per turn), all off with ENABLE_PERFORMANCE_TRACKING=false.
 *
 * Retry-safety: reads are free to repeat; a write tool's effect and its result are stored once
 * per (session, turn, tool call id) and a retry answers the stored result; metric rows have a
 * key and are written once; turn rows are upserts.
 */
import { ApplicationFailure } from '@temporalio/common';
import { performance } from 'node:perf_hooks';
import type { AppConfig } from '../config';
import type { MetricRow, SessionsRepository } from '../db/repositories/sessions.repository';
import { pathKeys } from '../db/repositories/sessions.repository';
import { buildSessionPrompt, buildSummaryPrompt } from '../domain/sessions/context';
import { effectivePromptSettings } from '../domain/sessions/settings';
import { batchFigures, performanceLogFields, span, type TimedTool } from '../domain/sessions/tool-batch';
import { SESSION_TOOL_SPECS, SESSION_TOOLS } from '../domain/sessions/tools';
import type { StoredToolCall } from '../db/entities';
import { streamChannel, type StreamPublisher } from '../db/stream-channel';
import { schemaProblems } from '../llm/json-schema';
import type { CallContext, LlmService } from '../llm/llm-service';
import type { ToolCall, ToolChatMessage } from '../llm/types';
import type { Logger } from '../observability/logger';
import type { AppMetrics, SessionOperation } from '../observability/metrics';
import { llmTaskQueue, type LlmRoute } from '../shared/llm-routing';
import { SESSION_ENDED, SESSION_REPLY_MAX_TOKENS, toolKind, type ToolKind, type ToolName, type TurnMetrics } from '../shared/sessions';
import { withActivityContext } from './activity-context';

export const SESSION_PROMPT_VERSION = 'session-v1';
export const SESSION_SUMMARY_PROMPT_VERSION = 'session-summary-v1';
/** How long the story-so-far summary may grow (tokens). */
const SUMMARY_MAX_TOKENS = 300;
/** What a tool's result may weigh in the conversation (characters); longer results are cut. */
export const MAX_TOOL_RESULT_CHARS = 2000;
/** How many completed turns the prompt builder looks at (the rest are only counted). */
const CONTEXT_TURNS_LOADED = 40;

export interface SessionSettingsResult {
  route: LlmRoute;
  maxParallelToolCalls: number;
  maxToolSteps: number;
  turnsPerRun: number;
  /**
   * MAX_TURN_HISTORY, or its stored override when the run started: turns before the last this many
   * are summarised (absent in histories recorded before summaries). Fixed for the run; the prompt
   * reads the current value at every step.
   */
  maxTurnHistory?: number;
}

export interface SummariseTurnsInput {
  sessionId: string;
  title: string;
  /** Summarise turns 1 to this one (folding the latest earlier summary and the turns after it). */
  throughTurn: number;
  route: LlmRoute;
}

export interface SummariseTurnsResult {
  /** The last turn the stored summary covers (0: nothing to summarise yet). */
  throughTurn: number;
  /** False when the summary was there already (made by an earlier attempt or turn). */
  created: boolean;
  /** Turns this summary folded in. */
  turns: number;
}

export interface SessionLlmStepInput {
  sessionId: string;
  title: string;
  turnNumber: number;
  step: number;
  route: LlmRoute;
  input: string;
  /** The turn's exchange so far: the model's tool calls and the results fed back. */
  exchange: ToolChatMessage[];
  /**
   * Where the step's text is streamed (`turnStreamKey`: the session and the Update's id), or
   * none. Each step is a stream variant: `start`, its deltas, then `done` (the reply: version is
   * the turn's number) or `restart` (the text came with tool calls: it is not the reply).
   */
  streamKey?: string;
}

export interface SessionLlmStepResult {
  text: string;
  toolCalls: ToolCall[];
  inputTokens: number;
  outputTokens: number;
  startedAt: number;
  durationMs: number;
}

export interface SessionToolInput {
  sessionId: string;
  scriptId: string | null;
  turnNumber: number;
  step: number;
  call: ToolCall;
}

export interface SessionToolOutcome extends TimedTool {
  step: number;
  /** What the model is told (JSON, cut at MAX_TOOL_RESULT_CHARS). */
  content: string;
}

export interface ToolBatchInput {
  sessionId: string;
  turnNumber: number;
  /** The turn's start (beginTurn): a turn taken again after a failure records its batches anew. */
  turnStartedAt: number;
  step: number;
  outcomes: TimedTool[];
}

export interface FinishTurnInput {
  sessionId: string;
  turnNumber: number;
  /** Epoch ms when beginTurn started (the turn's clock starts there). */
  startedAt: number;
  status: 'completed' | 'failed';
  reply: string | null;
  error: string | null;
  toolCalls: (SessionToolOutcome & { arguments: unknown })[];
  llm: { calls: number; ms: number; inputTokens: number; outputTokens: number };
  steps: number;
  stepLimitReached: boolean;
}

export interface SessionActivityDeps {
  repo: SessionsRepository;
  llm: LlmService;
  config: AppConfig;
  logger?: Logger;
  metrics?: AppMetrics;
  /** Publishes the reply's deltas to watchers (src/db/stream-channel.ts); none = no streaming. */
  streams?: StreamPublisher;
}

class ToolError extends Error {}

const cut = (text: string, max = MAX_TOOL_RESULT_CHARS) => (text.length <= max ? text : `${text.slice(0, max - 20)}… [cut at ${max} chars]`);
const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Records metric rows (Postgres) and observes them (Prometheus), unless tracking is off. */
function metricsRecorder(deps: SessionActivityDeps) {
  const on = deps.config.sessions.performanceTracking;
  return {
    on,
    async record(rows: MetricRow[]): Promise<void> {
      if (!on) return;
      for (const r of rows) {
        deps.metrics?.sessionOperations[r.operation as SessionOperation]?.observe({ outcome: r.ok ? 'ok' : 'error', tool_kind: r.toolKind ?? '' }, r.durationMs / 1000);
      }
      await deps.repo.recordMetrics(rows);
    },
  };
}

/** Activities on the main task queue: settings, the session's rows, the tools, the turn's bookkeeping. */
export function createSessionActivities(deps: SessionActivityDeps) {
  const { repo, config } = deps;
  const recorder = metricsRecorder(deps);
  const embedding = config.llm.models.embedding;

  const embed = async (texts: string[], ctx: CallContext) => {
    const result = await deps.llm.embed(
      { purpose: 'embedding', provider: embedding.provider, model: embedding.model, promptVersion: 'session-memory-v1', texts, dimensions: config.llm.embeddingDimensions, useCache: true },
      ctx,
    );
    return result.vectors;
  };

  const tools: Record<ToolName, (a: Record<string, unknown>, input: SessionToolInput, ctx: CallContext) => Promise<unknown>> = {
    async read_state(a, input) {
      const session = await repo.getSession(input.sessionId);
      if (!session) throw new ToolError('the session does not exist');
      const keys = a.keys as string[] | undefined;
      const world = keys?.length ? Object.fromEntries(keys.filter((k) => Object.hasOwn(session.world, k)).map((k) => [k, session.world[k]])) : session.world;
      const characters = (await repo.characters(input.sessionId)).map((c) => c.name);
      return { title: session.title, turns: session.turns, world, characters };
    },
    async search_memories(a, input, ctx) {
      const [vector] = await embed([a.query as string], ctx);
      return { memories: await repo.searchMemories(input.sessionId, vector, embedding.model, (a.limit as number | undefined) ?? 5) };
    },
    async query_relationships(a, input) {
      return { relationships: await repo.relationships(input.sessionId, a.character as string | undefined) };
    },
    async semantic_search(a, input, ctx) {
      const [vector] = await embed([a.query as string], ctx);
      const k = (a.limit as number | undefined) ?? 5;
      const memories = await repo.searchMemories(input.sessionId, vector, embedding.model, k);
      const scenes = input.scriptId ? await repo.searchScenes(input.scriptId, vector, embedding.model, k) : [];
      return { hits: [...memories, ...scenes].sort((x, y) => y.score - x.score).slice(0, k) };
    },
    async stateful_read(a, input) {
      const out: Record<string, unknown> = {};
      if (typeof a.path === 'string' && a.path) {
        const session = await repo.getSession(input.sessionId);
        let node: unknown = session?.world ?? {};
        // The world's own keys only: "constructor" is not found in a world that has none.
        for (const key of pathKeys(a.path)) node = node && typeof node === 'object' && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
        out.path = a.path;
        out.found = node !== undefined;
        out.value = node ?? null;
      }
      if (typeof a.character === 'string' && a.character) {
        const c = (await repo.characters(input.sessionId)).find((x) => x.name.toLowerCase() === (a.character as string).toLowerCase());
        out.character = c ? { name: c.name, description: c.description, traits: c.traits } : null;
        out.relationships = c ? await repo.relationships(input.sessionId, c.name) : [];
      }
      if (!Object.keys(out).length) throw new ToolError('give a "path" into the world state or a "character" name');
      return out;
    },
    // The embedding is made before writeOnce's transaction, never inside it: an open transaction
    // holds a pooled connection, and embed() needs others (cache read, call-log row) while it
    // waits on HTTP, so concurrent sessions would exhaust the pool. A retry embeds again from
    // the response cache (same request, same key: no second payment), then writeOnce answers
    // the stored result and writes nothing.
    async add_memory(a, input, ctx) {
      const [vector] = await embed([a.text as string], ctx);
      return writeOnce(input, async (tx) => {
        const [id] = await repo.addMemories(tx, input.sessionId, input.turnNumber, [{ text: a.text as string, embedding: vector, model: embedding.model }]);
        return { memory_id: id };
      });
    },
    async batch_memory(a, input, ctx) {
      const texts = a.texts as string[];
      const vectors = await embed(texts, ctx);
      return writeOnce(input, async (tx) => {
        const ids = await repo.addMemories(tx, input.sessionId, input.turnNumber, texts.map((text, i) => ({ text, embedding: vectors[i], model: embedding.model })));
        return { memory_ids: ids };
      });
    },
    async update_state(a, input) {
      const changes = a.changes as Record<string, unknown>;
      return writeOnce(input, async (tx) => ({ updated: Object.keys(changes), keys: await repo.mergeWorld(tx, input.sessionId, changes) }));
    },
    async update_world(a, input) {
      const keys = pathKeys(a.path as string);
      if (!keys.length) throw new ToolError('"path" names no key');
      return writeOnce(input, async (tx) => {
        await repo.setWorldPath(tx, input.sessionId, keys, a.value);
        return { path: keys.join('.'), value: a.value };
      });
    },
    async create_character(a, input) {
      const name = (a.name as string).trim();
      const relationships = (a.relationships as { character: string; kind: string }[] | undefined) ?? [];
      return writeOnce(input, async (tx) => {
        const id = await repo.upsertCharacter(tx, input.sessionId, { name, description: (a.description as string | undefined) ?? '', traits: (a.traits as string[] | undefined) ?? [] });
        for (const r of relationships) await repo.upsertRelationship(tx, input.sessionId, name, r.character, r.kind);
        return { character_id: id, name, relationships: relationships.length };
      });
    },
  };

  async function writeOnce<T>(input: SessionToolInput, write: Parameters<SessionsRepository['writeOnce']>[1]): Promise<T> {
    const { result } = await repo.writeOnce({ sessionId: input.sessionId, turnNumber: input.turnNumber, toolCallId: input.call.id, toolName: input.call.name }, write);
    return result as T;
  }

  // Per batch and per turn: debug, so the worker is quiet at info (the rows and histograms hold the figures).
  const logLine = (fields: ReturnType<typeof performanceLogFields>, msg: string) => {
    if (recorder.on) deps.logger?.debug(fields, msg);
  };

  return {
    /**
     * The session's LLM route and the workflow's limits, from the worker's configuration and the
     * stored override of MAX_TURN_HISTORY (fixed in history per run: a run continued as new reads them again).
     */
    async resolveSessionSettings(): Promise<SessionSettingsResult> {
      const ref = config.llm.models.session;
      const prompt = effectivePromptSettings(config.sessions, await repo.sessionSettingsOverride());
      return {
        route: { ...ref, taskQueue: llmTaskQueue(config.temporal.taskQueue, ref.provider), requestTimeoutMs: config.llm.requestTimeoutMs },
        maxParallelToolCalls: config.sessions.maxParallelToolCalls,
        maxToolSteps: config.sessions.maxToolSteps,
        turnsPerRun: config.sessions.turnsPerRun,
        maxTurnHistory: prompt.maxTurnHistory,
      };
    },

    /** Creates the session's row once (seeded from its script's characters); answers the turns it has taken so far. */
    async openSession(input: { sessionId: string; title: string; scriptId: string | null }): Promise<{ created: boolean; characters: number; turns: number }> {
      const { ended, ...opened } = await repo.openSession({ id: input.sessionId, title: input.title, scriptId: input.scriptId });
      // A turn that reached the session after it ended (its sender saw it active a moment before)
      // starts a run: that run must take no turn (paid, on an ended session) and not stay open, an
      // orphan nothing can end. Failing its start ends it, with the turn unanswered.
      if (ended) throw ApplicationFailure.nonRetryable(`Session ${input.sessionId} has ended; start a new one with \`storyloom play\`.`, SESSION_ENDED);
      return opened;
    },

    /** The turn's row (running); answers when the turn's clock started. */
    async beginTurn(input: { sessionId: string; turnNumber: number; input: string }): Promise<{ startedAt: number }> {
      const startedAt = Date.now();
      await repo.beginTurn(input.sessionId, input.turnNumber, input.input);
      return { startedAt };
    },

    /**
     * One tool call. Arguments that break the tool's schema, an unknown tool and a tool that
     * cannot do what was asked answer `ok: false` with the reason (for the model); only an
     * infrastructure failure (the database) throws, so Temporal retries it.
     */
    async runSessionTool(input: SessionToolInput): Promise<SessionToolOutcome> {
      return withActivityContext(async (ctx) => {
        const startedAt = Date.now();
        const t0 = performance.now();
        const { call } = input;
        const kind: ToolKind = toolKind(call.name);
        let ok = true;
        let result: unknown;
        // Own properties only: a tool named "constructor" or "toString" is unknown, not Object's.
        const spec = Object.hasOwn(SESSION_TOOLS, call.name) ? SESSION_TOOLS[call.name as ToolName] : undefined;
        if (!spec) {
          ok = false;
          result = { error: `unknown tool "${call.name}"; the tools are ${SESSION_TOOL_SPECS.map((t) => t.name).join(', ')}` };
        } else {
          const problems = schemaProblems(call.arguments, spec.inputSchema);
          if (problems.length) {
            ok = false;
            result = { error: `invalid arguments for ${call.name}: ${problems.slice(0, 5).join('; ')}` };
          } else {
            try {
              result = await tools[call.name as ToolName](call.arguments as Record<string, unknown>, input, ctx);
            } catch (err) {
              if (!(err instanceof ToolError)) throw err;
              ok = false;
              result = { error: `${call.name} failed: ${err.message}` };
            }
          }
        }
        const durationMs = performance.now() - t0;
        await recorder.record([
          {
            opKey: `tool/${input.sessionId}/${input.turnNumber}/${call.id}`,
            operation: 'tool_execution',
            sessionId: input.sessionId,
            turnNumber: input.turnNumber,
            durationMs,
            toolName: call.name,
            toolKind: kind,
            ok,
            errorType: ok ? null : 'ToolError',
            details: { step: input.step, tool_call_id: call.id },
          },
        ]);
        return { id: call.id, name: call.name, kind, ok, step: input.step, startedAt, durationMs, content: cut(JSON.stringify(result)) };
      });
    },

    /** A step's tools as one batch: its metric row and the seed's log line. */
    async recordToolBatch(input: ToolBatchInput): Promise<void> {
      const f = batchFigures(input.outcomes);
      const executionId = `${input.sessionId}/${input.turnNumber}/${input.step}`;
      await recorder.record([
        {
          opKey: `batch/${executionId}/${input.turnStartedAt}`,
          operation: 'tool_batch',
          sessionId: input.sessionId,
          turnNumber: input.turnNumber,
          durationMs: f.durationMs,
          ok: input.outcomes.every((o) => o.ok),
          details: { step: input.step, tool_count: f.toolCount, read_only_count: f.readOnlyCount, write_count: f.writeCount, read_only_ms: f.readOnlyMs, write_ms: f.writeMs, slowest_read_only_ms: f.slowestReadOnlyMs },
        },
      ]);
      logLine(performanceLogFields(executionId, f, f.durationMs), `Executed ${f.toolCount} tools in ${(f.durationMs / 1000).toFixed(3)}s (avg: ${f.avgTimePerToolMs.toFixed(1)}ms/tool): ${f.readOnlyCount} read-only, ${f.writeCount} write`);
    },

    /** Ends the turn: its row (reply, tool calls, timings), the session's count, its metric row and log line; answers its figures. */
    async finishTurn(input: FinishTurnInput): Promise<TurnMetrics> {
      const turnMs = Date.now() - input.startedAt;
      const steps = [...new Set(input.toolCalls.map((t) => t.step))];
      const readOnlyMs = steps.reduce((s, step) => s + span(input.toolCalls.filter((t) => t.step === step && t.kind === 'read_only')), 0);
      const writeMs = steps.reduce((s, step) => s + span(input.toolCalls.filter((t) => t.step === step && t.kind === 'write')), 0);
      const figures: TurnMetrics = {
        tools: input.toolCalls.length,
        readOnly: input.toolCalls.filter((t) => t.kind === 'read_only').length,
        writes: input.toolCalls.filter((t) => t.kind === 'write').length,
        readOnlyMs,
        writeMs,
        llmCalls: input.llm.calls,
        llmMs: input.llm.ms,
        steps: input.steps,
        turnMs,
      };
      const stored: StoredToolCall[] = input.toolCalls.map((t) => ({
        id: t.id, name: t.name, kind: t.kind, step: t.step, arguments: t.arguments, ok: t.ok, result: t.content, startedAt: t.startedAt, durationMs: t.durationMs,
      }));
      await repo.finishTurn(input.sessionId, input.turnNumber, {
        status: input.status,
        reply: input.reply,
        error: input.error,
        toolCalls: stored,
        timings: { ...figures, stepLimitReached: input.stepLimitReached, inputTokens: input.llm.inputTokens, outputTokens: input.llm.outputTokens },
      });
      const executionId = `${input.sessionId}/${input.turnNumber}`;
      await recorder.record([
        {
          opKey: `turn/${executionId}/${input.startedAt}`,
          operation: 'turn',
          sessionId: input.sessionId,
          turnNumber: input.turnNumber,
          durationMs: turnMs,
          inputTokens: input.llm.inputTokens,
          outputTokens: input.llm.outputTokens,
          ok: input.status === 'completed',
          errorType: input.status === 'completed' ? null : 'TurnFailed',
          details: { ...figures },
        },
      ]);
      const f = { toolCount: figures.tools, readOnlyCount: figures.readOnly, writeCount: figures.writes, toolIds: input.toolCalls.map((t) => t.id) };
      logLine(performanceLogFields(executionId, f, turnMs), `Turn ${input.turnNumber} ${input.status} in ${(turnMs / 1000).toFixed(3)}s: ${figures.llmCalls} LLM calls, ${figures.tools} tools`);
      return figures;
    },

    async endSession(input: { sessionId: string }): Promise<void> {
      await repo.endSession(input.sessionId);
    },
  };
}

/** The session's LLM step, on the provider's task queue: the prompt from Postgres, the call with tools, its metric row. */
export function createSessionLlmActivities(deps: SessionActivityDeps) {
  const recorder = metricsRecorder(deps);
  return {
    /**
     * The story so far: folds the latest summary and the completed turns after it, through
     * `throughTurn`, into one LLM summary stored in session_summaries. Made once per range: a
     * summary already stored that reaches as far is answered as it is (no call); the call is
     * cached, so a retry before the row landed makes no second paid call.
     */
    async summariseSessionTurns(input: SummariseTurnsInput): Promise<SummariseTurnsResult> {
      return withActivityContext(async (ctx) => {
        const { repo } = deps;
        const previous = await repo.latestSummary(input.sessionId, input.throughTurn + 1);
        if (previous && previous.throughTurn >= input.throughTurn) return { throughTurn: previous.throughTurn, created: false, turns: 0 };
        const from = previous?.throughTurn ?? 0;
        const turns = await repo.completedTurns(input.sessionId, from + 1, input.throughTurn);
        if (!turns.length && !previous) return { throughTurn: 0, created: false, turns: 0 };
        let text = previous?.summary ?? '';
        if (turns.length) {
          const prompt = buildSummaryPrompt({ title: input.title, previous: previous && { throughTurn: previous.throughTurn, text: previous.summary }, turns, maxTokens: SUMMARY_MAX_TOKENS });
          const result = await deps.llm.chat(
            {
              purpose: 'session-summary',
              provider: input.route.provider,
              model: input.route.model,
              promptVersion: SESSION_SUMMARY_PROMPT_VERSION,
              request: { system: prompt.system, messages: [{ role: 'user', content: prompt.user }], maxTokens: SUMMARY_MAX_TOKENS },
              useCache: true,
            },
            ctx,
          );
          text = result.text.trim();
        }
        await repo.saveSummary({ sessionId: input.sessionId, throughTurn: input.throughTurn, fromTurn: from, summary: text, model: input.route.model });
        return { throughTurn: input.throughTurn, created: true, turns: turns.length };
      }, { rateLimitDeadlineMs: input.route.rateLimitDeadlineMs });
    },

    /**
     * One round of the model: builds the prompt (world, recent turns, older ones summarised,
     * within MAX_CONTEXT_TOKENS) plus the turn's exchange so far, calls the provider with the
     * session's tools and answers its text and tool calls. MAX_CONTEXT_TOKENS and MAX_TURN_HISTORY
     * are read at every step (the stored override, else the environment's): a change applies to
     * the next step of every session, at the cost of one primary-key read alongside the session's.
     * Retry-safe: it writes only its call-log and metric rows (one per attempt).
     */
    async sessionLlmStep(input: SessionLlmStepInput): Promise<SessionLlmStepResult> {
      return withActivityContext(async (ctx) => {
        const { repo, config } = deps;
        const [session, override] = await Promise.all([repo.getSession(input.sessionId), repo.sessionSettingsOverride()]);
        const settings = effectivePromptSettings(config.sessions, override);
        // At least the window's turns (a MAX_TURN_HISTORY above the usual load is carried in full, not only counted).
        const { turns, olderTurns } = await repo.contextTurns(input.sessionId, input.turnNumber, Math.max(CONTEXT_TURNS_LOADED, settings.maxTurnHistory));
        const characters = (await repo.characters(input.sessionId)).map((c) => c.name);
        const summary = await repo.latestSummary(input.sessionId, input.turnNumber);
        const prompt = buildSessionPrompt({
          summary: summary && { throughTurn: summary.throughTurn, text: summary.summary },
          title: input.title,
          world: session?.world ?? {},
          characters,
          turns,
          olderTurns,
          maxTurnHistory: settings.maxTurnHistory,
          maxContextTokens: settings.maxContextTokens,
          input: input.input,
        });
        const startedAt = Date.now();
        const t0 = performance.now();
        const metric = (ok: boolean, extra: Partial<MetricRow>): MetricRow => ({
          // One row per attempt of this activity (a turn taken again after a failure is another activity).
          opKey: `llm/${ctx.workflowId}/${ctx.runId}/${ctx.activityId}/${ctx.attempt ?? 1}`,
          operation: 'llm_call',
          sessionId: input.sessionId,
          turnNumber: input.turnNumber,
          durationMs: performance.now() - t0,
          ok,
          details: { step: input.step, provider: input.route.provider, model: input.route.model, full_turns: prompt.fullTurns, summarised_turns: prompt.summarisedTurns, summary_through_turn: prompt.summaryThroughTurn,
            max_context_tokens: settings.maxContextTokens, max_turn_history: settings.maxTurnHistory },
          ...extra,
        });
        const stream = replyStream(deps.streams, input);
        try {
          const result = await deps.llm.chatWithTools(
            {
              purpose: 'session',
              provider: input.route.provider,
              model: input.route.model,
              promptVersion: SESSION_PROMPT_VERSION,
              request: { system: prompt.system, messages: [...prompt.messages, ...input.exchange], tools: SESSION_TOOL_SPECS, maxTokens: SESSION_REPLY_MAX_TOKENS },
            },
            { ...ctx, interactive: true, onToken: stream?.start(ctx.attempt ?? 1), onStreamRetry: stream?.retry },
          );
          await stream?.end(result.toolCalls.length > 0, TRUNCATED_STOPS.has(result.stopReason ?? ''));
          const row = metric(true, { durationMs: result.latencyMs, inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens });
          await recorder.record([row]);
          return { text: result.text, toolCalls: result.toolCalls, inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens, startedAt, durationMs: row.durationMs };
        } catch (err) {
          await stream?.fail(ctx.signal?.aborted ? 'cancelled' : errorMessage(err));
          const type = (err as { type?: string }).type ?? (err as Error).name ?? 'Error';
          await recorder.record([metric(false, { errorType: type, details: { step: input.step, message: errorMessage(err).slice(0, 200) } })]).catch(() => undefined);
          throw err;
        }
      }, { rateLimitDeadlineMs: input.route.rateLimitDeadlineMs });
    },
  };
}

const TRUNCATED_STOPS = new Set(['max_tokens', 'length']);

/**
 * A step's text on the turn's stream channel (best-effort, never failing the step): `start`,
 * deltas as the provider sends them, then `done` when the step is the reply or `restart` when it
 * came with tool calls (its text, if any, was the model thinking aloud, not the reply).
 */
function replyStream(streams: StreamPublisher | undefined, input: SessionLlmStepInput) {
  if (!streams || !input.streamKey) return undefined;
  const channel = streamChannel(input.streamKey);
  const variant = input.step;
  let attempt = 1;
  return {
    start(activityAttempt: number): (delta: string) => void {
      attempt = activityAttempt;
      streams.event(channel, { type: 'start', variant, attempt });
      return (delta) => streams.delta(channel, variant, delta);
    },
    /** The step's request failed part-way and is sent again within this attempt: its text so far is void, as for a new attempt. */
    retry: (reason: string): void => {
      streams.event(channel, { type: 'failed', variant, message: reason });
      streams.event(channel, { type: 'start', variant, attempt: ++attempt });
    },
    async end(toolCalls: boolean, truncated: boolean): Promise<void> {
      streams.event(channel, toolCalls ? { type: 'restart', variant, reason: 'tool calls' } : { type: 'done', variant, version: input.turnNumber, truncated });
      streams.forget(channel, variant);
      await streams.flush();
    },
    async fail(message: string): Promise<void> {
      streams.event(channel, { type: 'failed', variant, message });
      streams.forget(channel, variant);
      await streams.flush();
    },
  };
}
