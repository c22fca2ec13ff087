/**
 * Screenplay generation's activities, on the provider's task queue: `prepareScreenplay` loads
 * the personas (one query) and builds the prompt within its token budget; `generateScreenplayVariant`
 * streams one version — publishing deltas to watchers and heartbeating its progress — checks it
 * is Fountain (one retry carrying the parse error), continues a reply cut at max_tokens, and
 * saves story, version and cast in one transaction keyed by run and variant (a retry returns
 * the saved version and calls no model). Only replies that parse are cached: each call's
 * `llm_calls` row is written at once, its cache entry once the whole reply (with its
 * continuations) passed the Fountain check. Payloads carry keys and figures, never the text.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config';
import { countStatements } from '../db/repositories/counted';
import { deferredLlmStatements } from '../db/repositories/deferred-llm-writes';
import { writeInOneStatement } from '../db/repositories/multi-row';
import { ScreenplayRepository, type LoadedPersona } from '../db/repositories/screenplay.repository';
import type { StreamPublisher } from '../db/stream-channel';
import { streamChannel } from '../db/stream-channel';
import { castOf, checkFountain, scenesSoFar } from '../domain/generation/fountain-check';
import { UnknownPersonasError } from '../domain/generation/personas';
import {
  CONTINUE_PROMPT,
  parseRetryPrompt,
  personaBlocksWithin,
  SCREENPLAY_PROMPT_VERSION,
  SCREENPLAY_SYSTEM,
  userPrompt,
} from '../domain/generation/prompt';
import { estimateTokens } from '../domain/tokens';
import { deferredWrites, type CallContext, type DeferredWrites, type LlmService } from '../llm/llm-service';
import { localCounter, type TokenCounter } from '../llm/token-counter';
import type { ChatMessage } from '../llm/types';
import type { LlmRoute } from '../shared/llm-routing';
import {
  ScreenplayFailureType,
  type GenerationHeartbeat,
  type PromptReport,
  type VariantResult,
} from '../shared/screenplay';
import { withActivityContext, type ActivityProgress } from './activity-context';
import { untilDatabaseAnswersIn } from './attempt-budget';

export interface ScreenplayDeps {
  config: AppConfig;
  db: DataSource;
  llm: LlmService;
  tokens: TokenCounter;
  streams: StreamPublisher;
}

export interface PrepareScreenplayInput {
  runKey: string;
  workflowId: string;
  storyId: string;
  /** Load the story's title (and keep its id) when making a new version of it. */
  existingStory: boolean;
  title?: string;
  /** Absent: the plot stored under `workflowId` before the run started (screenplay_requests). */
  plot?: string;
  personaNames: string[];
  route: LlmRoute;
  personaBudgetTokens: number;
  batchPersonaLoad: boolean;
}

export interface PreparedScreenplay {
  title: string;
  prompt: PromptReport;
  personaQueries: number;
}

export interface GenerateVariantInput {
  runKey: string;
  workflowId: string;
  variant: number;
  route: LlmRoute;
  maxTokens: number;
  maxContinuations: number;
  useCache: boolean;
  stream: boolean;
  oneTransactionSave: boolean;
}

const TRUNCATED = new Set(['max_tokens', 'length']);

function costOf(config: AppConfig, model: string, inputTokens: number, outputTokens: number): number {
  const price = config.llm.prices[model];
  return price ? (inputTokens * price.input + outputTokens * price.output) / 1_000_000 : 0;
}

export function createScreenplayActivities(deps: ScreenplayDeps) {
  const repo = new ScreenplayRepository(deps.db);

  return {
    /**
     * Loads the personas (one query; an unknown name fails the run at once with the closest
     * names), trims their contexts to the budget and stores the prompt under the run's key.
     */
    async prepareScreenplay(input: PrepareScreenplayInput): Promise<PreparedScreenplay> {
      const plot = input.plot ?? (await repo.requestPlot(input.workflowId));
      if (plot === undefined) {
        throw ApplicationFailure.create({ type: ScreenplayFailureType.PlotNotFound, message: `No plot in the input and none stored for ${input.workflowId}`, nonRetryable: true });
      }
      let title = input.title;
      if (input.existingStory) {
        const story = await repo.findStory(input.storyId);
        if (!story) throw ApplicationFailure.create({ type: ScreenplayFailureType.StoryNotFound, message: `No story ${input.storyId}`, nonRetryable: true });
        title ??= story.title;
      }
      title ??= plot.trim().split(/\s+/).slice(0, 6).join(' ');
      let loaded;
      try {
        loaded = await countStatements(deps.db, (manager) => {
          const counting = new ScreenplayRepository(manager);
          return input.batchPersonaLoad ? counting.loadPersonas(input.personaNames) : counting.loadPersonasOneByOne(input.personaNames);
        });
      } catch (err) {
        if (err instanceof UnknownPersonasError) {
          throw ApplicationFailure.create({ type: ScreenplayFailureType.UnknownPersona, message: err.message, nonRetryable: true, details: [err.unknown] });
        }
        throw err;
      }
      const personas: LoadedPersona[] = loaded.value;
      const { count, method } = await localCounter(input.route.provider, input.route.model);
      const fitted = personaBlocksWithin(
        personas.map((p) => ({ name: p.name, ...p.config })),
        input.personaBudgetTokens,
        count,
      );
      const prompt = userPrompt(title, plot, fitted.blocks);
      const counted = await withActivityContext((ctx) =>
        deps.tokens.countPrompt(input.route.provider, { model: input.route.model, system: SCREENPLAY_SYSTEM, messages: [{ role: 'user', content: prompt }] }, {
          purpose: 'screenplay.count',
          signal: ctx.signal,
        }),
      );
      const report: PromptReport = {
        promptTokens: counted.tokens,
        countMethod: counted.method === 'provider' ? 'provider' : method,
        personaBudgetTokens: input.personaBudgetTokens,
        personaTokens: fitted.tokens,
        trimmed: fitted.trimmed,
      };
      await repo.saveRun({
        runKey: input.runKey,
        workflowId: input.workflowId,
        storyId: input.storyId,
        title,
        plot,
        personas: personas.map((p) => ({ id: p.id, name: p.name })),
        system: SCREENPLAY_SYSTEM,
        prompt,
        promptReport: report,
      });
      return { title, prompt: report, personaQueries: loaded.statements };
    },

    /**
     * One version: streamed (deltas to the run's channel, progress in heartbeats), checked as
     * Fountain (one retry with the parse error), continued after max_tokens up to
     * `maxContinuations` times (then saved marked truncated), saved in one transaction.
     * Idempotent: a version saved under this run and variant is returned as it is.
     */
    async generateScreenplayVariant(input: GenerateVariantInput): Promise<VariantResult> {
      const saveKey = `${input.runKey}/${input.variant}`;
      const saved = await repo.versionByKey(saveKey);
      if (saved) {
        const row = await repo.version((await repo.loadRun(input.runKey)).storyId, saved.version);
        return { ...(row!.stats as VariantResult), version: saved.version, versionId: saved.versionId, created: false, save: { statements: 0, commits: 0 } };
      }
      const run = await repo.loadRun(input.runKey);
      const channel = streamChannel(input.workflowId);
      const streams = deps.streams;
      return withActivityContext<VariantResult, GenerationHeartbeat>(async (ctx, progress) => {
        const beat: GenerationHeartbeat = { variant: input.variant, tokens: 0, scenes: 0, phase: 'waiting-first-token' };
        streams.event(channel, { type: 'start', variant: input.variant, attempt: ctx.attempt ?? 1 });
        const started = Date.now();
        let firstTokenAt: number | undefined;
        const untilDatabaseAnswers = <T>(write: () => Promise<T>) => untilDatabaseAnswersIn(ctx, write);
        try {
          // Requests sent again within this attempt after a stream failed part-way (a provider's
          // overload mid-stream): watchers hear a new start, as for a new attempt, and drop what they had.
          let streamRetries = 0;
          const onStreamRetry = () => streams.event(channel, { type: 'start', variant: input.variant, attempt: (ctx.attempt ?? 1) + ++streamRetries });
          const generate = (messages: ChatMessage[], already: string, collect: DeferredWrites, refreshCache: boolean) =>
            callModel(deps, { ...input, refreshCache }, { ...ctx, collect }, progress, beat, messages, already, (delta) => {
              firstTokenAt ??= Date.now();
              streams.delta(channel, input.variant, delta);
            }, onStreamRetry);
          let prompt = run.prompt;
          let parseRetried = false;
          let result;
          let text = '';
          let continuations = 0;
          let inputTokens = 0;
          let outputTokens = 0;
          let cached = true;
          // Set once a cached reply failed the check: it is a miss, the model is asked again.
          let refreshCache = false;
          for (;;) {
            // This try's cache entries: stored only if its whole reply parses.
            const collect = deferredWrites();
            result = await generate([{ role: 'user', content: prompt }], '', collect, refreshCache);
            text = result.text;
            ({ inputTokens, outputTokens } = result.usage);
            cached &&= result.cached;
            let fromCache = result.cached;
            continuations = 0;
            while (TRUNCATED.has(result.stopReason ?? '') && continuations < input.maxContinuations) {
              continuations++;
              beat.phase = 'continuing';
              progress.save({ ...beat });
              const partial = text.trimEnd();
              result = await generate(
                [{ role: 'user', content: prompt }, { role: 'assistant', content: partial }, { role: 'user', content: CONTINUE_PROMPT }],
                partial,
                collect,
                refreshCache,
              );
              text = partial + result.text;
              inputTokens += result.usage.inputTokens;
              outputTokens += result.usage.outputTokens;
              cached &&= result.cached;
              fromCache ||= result.cached;
            }
            const check = checkFountain(text);
            if (check.ok) {
              await untilDatabaseAnswers(() => writeInOneStatement(deps.db, deferredLlmStatements(deps.db.manager, [{ cacheEntries: collect.cacheEntries }])));
              break;
            }
            if (fromCache && !refreshCache) {
              // A cached reply that does not parse (stored before replies were checked) is a miss,
              // not the model's failure: the same prompt goes to the model, past the cache.
              refreshCache = true;
              progress.save({ ...beat, tokens: 0, scenes: 0 });
              streams.event(channel, { type: 'restart', variant: input.variant, reason: check.problem });
              continue;
            }
            if (parseRetried) {
              throw ApplicationFailure.create({
                type: ScreenplayFailureType.InvalidScreenplay,
                message: `variant ${input.variant + 1}: the reply is not a Fountain screenplay after one retry: ${check.problem}`,
                nonRetryable: true,
              });
            }
            parseRetried = true;
            beat.phase = 'retrying-parse';
            progress.save({ ...beat, tokens: 0, scenes: 0 });
            streams.event(channel, { type: 'restart', variant: input.variant, reason: check.problem });
            prompt = parseRetryPrompt(run.prompt, check.problem);
          }
          const check = checkFountain(text);
          if (!check.ok) throw new Error('unreachable: the loop leaves with a parsed screenplay');
          const truncated = TRUNCATED.has(result.stopReason ?? '');
          beat.phase = 'saving';
          progress.save({ ...beat, tokens: outputTokens, scenes: check.scenes });
          const durationMs = Date.now() - started;
          const stats: Omit<VariantResult, 'version' | 'versionId' | 'created' | 'save'> = {
            variant: input.variant,
            truncated,
            continuations,
            parseRetried,
            scenes: check.scenes,
            characters: check.characters,
            inputTokens,
            outputTokens,
            ttftMs: (firstTokenAt ?? Date.now()) - started,
            durationMs,
            costUsd: cached ? 0 : costOf(deps.config, input.route.model, inputTokens, outputTokens),
            cached,
          };
          const saveInput = {
            saveKey,
            storyId: run.storyId,
            title: run.title,
            plot: run.plot,
            fountain: text,
            provider: input.route.provider,
            model: input.route.model,
            truncated,
            continuations,
            cast: castOf(check.characters, run.personas),
            // A cached reply the story already holds is that version (a re-run), not a copy of it.
            reuseSameText: cached,
          };
          // The stats stored with the version are the variant's figures, so a retry can return them.
          const save = await untilDatabaseAnswers(() =>
            countStatements(deps.db, (manager) => {
              const counting = new ScreenplayRepository(manager);
              return input.oneTransactionSave ? counting.saveVersion({ ...saveInput, stats }) : counting.saveVersionSeparately({ ...saveInput, stats });
            }),
          );
          const outcome: VariantResult = { ...stats, ...save.value, save: { statements: save.statements, commits: save.commits } };
          streams.event(channel, { type: 'done', variant: input.variant, version: outcome.version, truncated });
          await streams.flush();
          return outcome;
        } catch (err) {
          streams.event(channel, { type: 'failed', variant: input.variant, message: ctx.signal?.aborted ? 'cancelled' : (err as Error).message });
          await streams.flush();
          throw err;
        }
      }, { rateLimitDeadlineMs: input.route.rateLimitDeadlineMs });
    },
  };
}

/**
 * One model call: streamed (deltas to `onDelta`, heartbeats with tokens and scenes) unless
 * streaming is off. `ctx.collect` takes the call's row and cache entry: the row is written here
 * (a paid call is recorded before this returns), the cache entry is left for the caller to store
 * once the reply it belongs to parses.
 */
async function callModel(
  deps: ScreenplayDeps,
  input: GenerateVariantInput & { refreshCache: boolean },
  ctx: CallContext & { collect: DeferredWrites },
  progress: ActivityProgress<GenerationHeartbeat>,
  beat: GenerationHeartbeat,
  messages: ChatMessage[],
  already: string,
  onDelta: (delta: string) => void,
  onStreamRetry: () => void,
) {
  let text = already;
  let lastBeat = 0;
  const onToken = (delta: string) => {
    text += delta;
    onDelta(delta);
    beat.tokens = estimateTokens(text);
    if (beat.phase === 'waiting-first-token') beat.phase = 'streaming';
    if (Date.now() - lastBeat >= 1000) {
      lastBeat = Date.now();
      progress.save({ ...beat, scenes: scenesSoFar(text) });
    }
  };
  const result = await deps.llm.chat(
    {
      purpose: 'screenplay',
      provider: input.route.provider,
      model: input.route.model,
      // Variants are distinct requests: each has its own cache entry.
      promptVersion: `${SCREENPLAY_PROMPT_VERSION}#${input.variant}`,
      request: { system: SCREENPLAY_SYSTEM, messages, maxTokens: input.maxTokens, temperature: 1 },
      useCache: input.useCache,
      refreshCache: input.refreshCache,
    },
    {
      ...ctx,
      onToken: input.stream ? onToken : undefined,
      onStreamRetry: () => {
        text = already;
        onStreamRetry();
      },
    },
  );
  const calls = ctx.collect.calls.splice(0);
  await untilDatabaseAnswersIn(ctx, () => writeInOneStatement(deps.db, deferredLlmStatements(deps.db.manager, [{ calls }])));
  // A cached (or unstreamed) answer reaches watchers whole.
  if (result.cached || !input.stream) onDelta(result.text);
  return result;
}
