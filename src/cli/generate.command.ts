/**
 * `storyloom generate --plot plot.txt --persona "Name" …`: starts generateScreenplay. With
 * --wait the screenplay streams to stdout as it is written (LISTEN on the run's channel), then a
 * one-line summary per version; without it, the Web UI link and the workflow id.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { subscribeToStream, type StreamEvent } from '../db/stream-channel';
import { ScreenplayRepository } from '../db/repositories/screenplay.repository';
import { parseModelChoice } from '../operations/model-choice';
import { decodePlot, MAX_PERSONAS, MAX_PLOT_BYTES, MAX_SCREENPLAY_TITLE_LENGTH, screenplayRunWorkflowId, startScreenplay } from '../operations/start-screenplay';
import { DEFAULT_MAX_TOKENS, MAX_VARIANTS, ScreenplayFailureType, type GenerateScreenplayResult } from '../shared/screenplay';
import type { CliContext } from './context';
import { IngestionRunningError } from '../operations/import-script';
import { ingestCommand, refusedWhileIngesting } from './ingest.command';
import { checkInputFile } from './input-file';
import { intOption } from './int-option';
import { leavingOnInterrupt } from './interrupt';
import { storedReport } from '../operations/stored-report';
import { describeVariant, importStoryVersion } from './screenplays.command';
import { UsageError, webUiLink } from './temporal-client';
import { workflowFailureMessage } from './workflow-failure';
import { oneLineProblem } from '../shared/one-line';

/** The plot file's text: a file (not over MAX_PLOT_BYTES, checked before reading) of UTF-8 text, as an import checks a screenplay. */
async function readPlot(file: string): Promise<string> {
  await checkInputFile(file, MAX_PLOT_BYTES);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new UsageError(`Cannot read ${file}: ${(err as Error).message}.`);
  }
  return decodePlot(bytes, `${file}: The plot`);
}

/**
 * Prints variant 1's text as it arrives; the time of its first delta is the CLI's time to first
 * token. Stdout is to hold the saved screenplay alone (`generate --wait > draft.fountain`): once
 * the stream starts over (a retried attempt, a reply rewritten because it did not parse) nothing
 * more is written as it comes, and `complete` settles stdout against the saved text.
 */
export class StreamPrinter {
  firstDeltaAt: number | undefined;
  readonly done = new Set<number>();
  /** What stdout holds of variant 1. */
  written = '';
  /** Why the stream stopped being written (it started over), if it did. */
  interrupted: string | undefined;
  private endedWithNewline = true;

  constructor(private readonly out: (text: string) => void) {}

  onEvent = (event: StreamEvent): void => {
    if (event.type === 'done' || event.type === 'failed') this.done.add(event.variant);
    if (event.variant !== 0) return;
    if (event.type === 'delta') {
      this.firstDeltaAt ??= performance.now();
      if (this.interrupted) return;
      this.out(event.text);
      this.written += event.text;
      this.endedWithNewline = event.text.endsWith('\n');
    } else if (event.type === 'restart') {
      this.interrupted ??= `the reply was not a Fountain screenplay (${event.reason}) and was written again`;
    } else if (event.type === 'start' && event.attempt > 1 && this.written) {
      this.interrupted ??= `its generation was retried (attempt ${event.attempt})`;
    }
  };

  /**
   * Makes stdout the saved text: what the stream did not show is written (a stream lost or
   * restarted over the same text); true when stdout holds the saved text whole, false when it
   * holds text the saved version does not start with.
   */
  complete(saved: string): boolean {
    if (!saved.startsWith(this.written)) return false;
    const rest = saved.slice(this.written.length);
    if (rest) {
      this.out(rest);
      this.written = saved;
      this.endedWithNewline = rest.endsWith('\n');
    }
    return true;
  }

  newline(): void {
    if (!this.endedWithNewline) this.out('\n');
    this.endedWithNewline = true;
  }
}

export async function generateCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const started = performance.now();
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      plot: { type: 'string' },
      persona: { type: 'string', multiple: true },
      title: { type: 'string' },
      'max-tokens': { type: 'string' },
      variants: { type: 'string' },
      model: { type: 'string' },
      story: { type: 'string' },
      'no-cache': { type: 'boolean' },
      ingest: { type: 'boolean' },
      wait: { type: 'boolean' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}" (see \`storyloom generate --help\`)`);
  // A new version of a story (--story) is written from the story's plot and personas unless given others.
  if (!values.plot && values.story === undefined) throw new UsageError('--plot <file> is required (or --story <id> for a new version of a story, from its plot)');
  const personaNames = (values.persona ?? []).map((p) => p.trim()).filter(Boolean);
  if (!personaNames.length && values.story === undefined) throw new UsageError('give at least one --persona "Name" (`storyloom personas list` shows them)');
  if (personaNames.length > MAX_PERSONAS) throw new UsageError(`at most ${MAX_PERSONAS} personas`);
  if (new Set(personaNames).size !== personaNames.length) throw new UsageError('a persona is named twice');
  // A blank title would make a story no title finds (`screenplays show ""`); a long one, what the API refuses.
  const title = values.title?.trim();
  if (values.title !== undefined && !title) throw new UsageError('--title must not be empty (leave it out for the plot\'s first words, or the story\'s title)');
  if (title && title.length > MAX_SCREENPLAY_TITLE_LENGTH) throw new UsageError(`--title takes at most ${MAX_SCREENPLAY_TITLE_LENGTH} characters; got ${title.length}`);
  const notOneLine = title ? oneLineProblem(title) : undefined;
  if (notOneLine) throw new UsageError(`--title ${notOneLine}`);
  const maxTokens = intOption('--max-tokens', values['max-tokens'], DEFAULT_MAX_TOKENS, 256, 64_000);
  const variants = intOption('--variants', values.variants, 1, 1, MAX_VARIANTS);
  const model = parseModelChoice('--model', values.model);
  const plot = values.plot ? await readPlot(values.plot) : undefined;

  // A titled new story's run id is its title's (one run of a title at a time).
  const workflowId = screenplayRunWorkflowId({ title, story: values.story });
  const wait = values.wait || values.ingest;
  const printer = new StreamPrinter((text) => process.stdout.write(text));
  // Listening before the start: no delta is sent before anyone hears it.
  const subscription = wait ? await subscribeToStream(ctx.config.databaseUrl, workflowId, printer.onEvent) : undefined;
  try {
    const { handle } = await startScreenplay(ctx, {
      plot, personaNames, title, story: values.story, maxTokens, variants, model, useCache: !values['no-cache'], workflowId,
    });
    if (!wait) {
      console.log(`Started screenplay generation ${workflowId}`);
      console.log(`Web UI: ${webUiLink(ctx.config, workflowId, handle.firstExecutionRunId)}`);
      return 0;
    }
    let result: GenerateScreenplayResult;
    try {
      result = await leavingOnInterrupt(
        `Its versions are saved as it ends (\`storyloom screenplays list\`; report: storyloom report ${workflowId}); stop it: storyloom cancel ${workflowId}`,
        () => handle.result(),
      );
    } catch (err) {
      printer.newline();
      if (err instanceof WorkflowFailedError) {
        const cause = err.cause as { type?: string; message?: string } | undefined;
        if (cause?.type === ScreenplayFailureType.UnknownPersona) throw new UsageError(cause.message ?? 'unknown persona');
        console.error(`Generation ${err.cause?.name === 'CancelledFailure' ? 'cancelled' : 'failed'}: ${workflowFailureMessage(err) ?? err.message}`);
        return 1;
      }
      throw err;
    }
    // The last deltas may trail the result by a moment.
    const deadline = Date.now() + 2000;
    while (printer.done.size < result.variants.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const first = result.variants.find((v) => v.variant === 0);
    // Unreadable now (the database away): stdout is left as the stream made it.
    const firstText = first && (await new ScreenplayRepository(await ctx.db()).version(result.storyId, first.version).catch(() => undefined))?.fountain;
    const whole = firstText === undefined || printer.complete(firstText);
    printer.newline();
    if (!whole) {
      // Text already written cannot be taken back: say so, and fail a redirect that would keep it.
      let same = 0;
      while (same < printer.written.length && printer.written[same] === firstText[same]) same++;
      console.error(
        `stdout does not hold version ${first!.version} as saved: ${printer.interrupted ?? 'the stream differs from it'}, and of the ${printer.written.length} characters written ` +
          `the first ${same} match it; \`storyloom screenplays export ${result.storyId} --version ${first!.version}\` writes it whole.`,
      );
    }
    const cliFirstToken = printer.firstDeltaAt !== undefined ? `${((printer.firstDeltaAt - started) / 1000).toFixed(1)} s` : 'n/a';
    // Stdout holds the screenplay alone (`generate --wait > draft.fountain`); the summary goes to stderr.
    // Versions in number order (the result lists them as they were saved).
    const saved = [...result.variants].sort((a, b) => a.version - b.version);
    // A reply the story already had as a version (a cached one again) is that version, not saved twice.
    const versions = saved.map((v) => `v${v.version}${v.created ? '' : ' (the same text as before, not saved again)'}`).join(', ');
    if (saved.length > 1) {
      for (const v of saved) console.error(`  version ${v.version}: ${describeVariant(v)}`);
      // Only the first variant streams to stdout: say which version that is and where the others are.
      const streamed = result.variants.find((v) => v.variant === 0);
      const others = saved.filter((v) => v !== streamed).map((v) => v.version);
      console.error(
        `  stdout holds ${streamed ? `version ${streamed.version}` : 'no version'}; the others: storyloom screenplays export ${result.storyId} --version N (N: ${others.join(', ')})`,
      );
    }
    const truncated = result.variants.filter((v) => v.truncated).length;
    // The run's rate is over the variants it generated: a cached one comes back in milliseconds.
    const cached = result.variants.filter((v) => v.cached).length;
    const rate = [
      result.totals.tokensPerSecond !== undefined && cached < result.variants.length ? `${result.totals.tokensPerSecond} tokens/s` : '',
      cached === 0 ? '' : cached === result.variants.length ? 'from the cache' : `${cached} of ${result.variants.length} from the cache`,
    ].filter(Boolean).join(', ');
    // What the run paid: its report counts every call, attempts cut short (a stall, a retry) included; the result only the saved replies.
    const paidUsd = (await storedReport(ctx, { firstRunId: handle.firstExecutionRunId }).catch(() => undefined))?.totals.costUsd;
    const cost =
      typeof paidUsd === 'number' && paidUsd - result.totals.costUsd >= 0.00005
        ? `$${paidUsd.toFixed(4)} paid ($${result.totals.costUsd.toFixed(4)} for the saved replies, the rest for attempts cut short)`
        : `$${result.totals.costUsd.toFixed(4)}`;
    console.error(
      `✓ "${result.title}" ${versions} (story ${result.storyId}): ${result.totals.outputTokens.toLocaleString('en-US')} tokens, ` +
        `first token at the CLI ${cliFirstToken}, ${((performance.now() - started) / 1000).toFixed(1)} s total, ${cost} ` +
        `(${result.provider}:${result.model}, ${rate}` +
        `${truncated ? `; ${truncated} TRUNCATED at max_tokens` : ''}` +
        `${result.prompt.trimmed.length ? `; personas trimmed to the budget: ${result.prompt.trimmed.map((t) => `${t.name} ${t.tokens}→${t.keptTokens} tokens`).join(', ')}` : ''})`,
    );
    console.error(`Report: storyloom report ${workflowId}`);
    // A file or pipe holding a broken screenplay is a failure for the script that reads it; a terminal only shows it.
    if (!whole && !process.stdout.isTTY) return 1;
    if (!values.ingest) return 0;
    let imported;
    try {
      imported = await importStoryVersion(ctx, result.storyId);
    } catch (err) {
      if (err instanceof IngestionRunningError) return refusedWhileIngesting(ctx, err);
      throw err;
    }
    console.error(`Imported version ${imported!.version} as script "${imported!.title}" (${imported!.scriptId}); ingesting it.`);
    return ingestCommand(ctx, [imported!.scriptId, '--wait']);
  } finally {
    await subscription?.close();
  }
}
