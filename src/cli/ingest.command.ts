import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { DEFAULT_CONCURRENCY, DEFAULT_FLAGS, MAX_CONCURRENCY, type IngestionFlags, type IngestionResult } from '../shared/ingestion';
import { IngestionRunningError } from '../operations/import-script';
import { IngestionAlreadyRunningError, startIngestion } from '../operations/start-ingestion';
import { storedReport } from '../operations/stored-report';
import { RunRepository } from '../db/repositories/run.repository';
import { type ingestScript, progressQuery } from '../workflows';
import { progressLineOrWhy } from '../operations/run-progress';
import { looksLikeFile, type CliContext } from './context';
import { intOption } from './int-option';
import { describeImport, importFile } from './import.command';
import { importStoryVersion, versionNumber } from './screenplays.command';
import { drawProgressUntil, progressLine } from './progress-bar';
import { leavingOnInterrupt } from './interrupt';
import { formatReportShort } from '../reporting/format-report';
import { UsageError, webUiLink } from './temporal-client';
import { windowOverWorkerCap } from './worker-cap';
import { workflowFailureMessage } from './workflow-failure';

const FLAG_OPTIONS: Record<string, keyof IngestionFlags> = {
  'no-parallel-scene-summaries': 'parallelSceneSummaries',
  'no-parallel-character-sheets': 'parallelCharacterSheets',
  'no-batch-embeddings': 'batchEmbeddings',
  'no-parallel-phase2': 'parallelPhase2',
  'no-cache': 'useCache',
};

function concurrency(name: string, raw: string | undefined, fallback: number): number {
  return intOption(`--${name}`, raw, fallback, 1, MAX_CONCURRENCY);
}

export function describeResult(r: IngestionResult): string {
  const p = r.phases;
  // "made" counts what the cache answered too (nothing paid): said apart, as the report's cache hits are.
  const line = (name: string, x: typeof p.summaries) =>
    `  ${name.padEnd(11)} ${x.done} made${x.cached ? ` (${x.cached} from the cache)` : ''}, ${x.reused} reused, ${x.failed} failed of ${x.total}`;
  const status = r.status === 'completed_with_failures' ? `completed with ${r.failureCount} failure(s)` : r.status;
  return [
    `Ingestion ${status} in ${(r.timingsMs.total / 1000).toFixed(1)} s (${r.mode}; summaries ${(r.timingsMs.summaries / 1000).toFixed(1)} s, phase 2 ${(r.timingsMs.phase2 / 1000).toFixed(1)} s)`,
    line('summaries', p.summaries), line('outline', p.outline), line('sheets', p.sheets), line('embeddings', p.embeddings),
    // Why a run failed (a batch write, an error every item would hit): stored with the result, shown by status and show.
    ...(r.error ? [`  error: ${r.error.type}: ${r.error.message}`] : []),
    ...r.failures.slice(0, 10).map((f) => `  ✗ ${f.phase} ${f.item}: ${f.errorType}: ${f.message}`),
  ].join('\n');
}

/** Polls the run's progress query and draws it until the result is in. */
export function waitWithProgress(handle: WorkflowHandle<typeof ingestScript>): Promise<IngestionResult> {
  return drawProgressUntil(handle.result(), () => progressLineOrWhy(handle, progressQuery, progressLine));
}

/**
 * An import refused because the script's ingestion runs (src/operations/import-script.ts): the
 * same answer, exit 3, as a second ingestion of a running script, with the running one's link.
 */
export function refusedWhileIngesting(ctx: CliContext, err: IngestionRunningError): number {
  console.error(`storyloom ingest: ${err.message}`);
  console.error(`Web UI: ${webUiLink(ctx.config, err.workflowId)}`);
  return 3;
}

export async function ingestCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...Object.fromEntries(Object.keys(FLAG_OPTIONS).map((k) => [k, { type: 'boolean' as const }])),
      'concurrency-summaries': { type: 'string' },
      'concurrency-sheets': { type: 'string' },
      partial: { type: 'boolean' },
      full: { type: 'boolean' },
      wait: { type: 'boolean' },
      'script-id': { type: 'string' },
      version: { type: 'string' },
    },
  });
  if (positionals.length !== 1) {
    throw new UsageError('usage: storyloom ingest <file | scriptId> [--no-<flag>] [--concurrency-summaries N] [--concurrency-sheets N] [--partial | --full] [--wait] [--script-id ID] | storyloom ingest <story> [--version N]');
  }
  if (values.partial && values.full) throw new UsageError('--partial and --full exclude each other');
  const flags: IngestionFlags = { ...DEFAULT_FLAGS };
  for (const [option, flag] of Object.entries(FLAG_OPTIONS)) if ((values as Record<string, unknown>)[option]) flags[flag] = false;
  const version = versionNumber(values.version);
  const limits = {
    summaries: concurrency('concurrency-summaries', values['concurrency-summaries'] as string | undefined, DEFAULT_CONCURRENCY.summaries),
    sheets: concurrency('concurrency-sheets', values['concurrency-sheets'] as string | undefined, DEFAULT_CONCURRENCY.sheets),
  };

  // A file is imported first (a re-import updates the same script); otherwise it names a script,
  // or a generated story whose latest version (or --version N) is imported as a script first.
  const target = positionals[0];
  let scriptId: string;
  let title: string;
  let scenes: number;
  let characters: number;
  try {
    if (existsSync(target)) {
      if (version !== undefined) throw new UsageError(`--version goes with a generated story (ingest <story> --version N), not a file: ${target}`);
      const imported = await importFile(ctx, target, { scriptId: values['script-id'] as string | undefined });
      console.log(describeImport(imported));
      ({ scriptId, title, scenes, characters } = imported);
    } else {
      // Without a file there is nothing to import into that script: ingesting <target> instead would run the wrong one.
      if (looksLikeFile(target)) throw new UsageError(`file not found: ${target}`);
      if (values['script-id'] !== undefined) {
        throw new UsageError(`--script-id goes with a file (ingest <file> --script-id ID updates that script from the file); to ingest a stored script, give its id or title alone: storyloom ingest ${values['script-id'] || '<scriptId>'}`);
      }
      const fromStory = await importStoryVersion(ctx, target, version);
      if (!fromStory && version !== undefined) {
        throw new UsageError(`--version goes with a generated story: no story "${target}" (\`storyloom screenplays list\` shows them)`);
      }
      if (fromStory) {
        console.log(
          fromStory.unchanged
            ? `Version ${fromStory.version} of the story is script "${fromStory.title}" (${fromStory.scriptId}) already, unchanged`
            : `Imported version ${fromStory.version} of the story as script "${fromStory.title}" (${fromStory.scriptId})`,
        );
      }
      const script = await ctx.script(fromStory?.scriptId ?? target);
      ({ id: scriptId, title, scenes, characters } = script);
    }
  } catch (err) {
    if (err instanceof IngestionRunningError) return refusedWhileIngesting(ctx, err);
    throw err;
  }
  let started;
  try {
    started = await startIngestion(ctx, { id: scriptId, title, scenes, characters }, {
      flags,
      concurrency: limits,
      mode: values.full ? 'full' : values.partial ? 'partial' : undefined,
    });
  } catch (err) {
    if (err instanceof IngestionAlreadyRunningError) {
      console.error(`An ingestion of "${title}" is already running: ${webUiLink(ctx.config, err.workflowId)}`);
      console.error(`Watch it with \`storyloom status ${scriptId}\`, or stop it with \`storyloom cancel ${scriptId}\`.`);
      return 3;
    }
    throw err;
  }
  const { workflowId, mode, handle } = started;
  console.log(`Started ingestion ${workflowId} (${mode})`);
  console.log(`Web UI: ${webUiLink(ctx.config, workflowId, handle.firstExecutionRunId)}`);
  for (const note of [
    windowOverWorkerCap(ctx.config, 'summary', '--concurrency-summaries', limits.summaries),
    windowOverWorkerCap(ctx.config, 'sheet', '--concurrency-sheets', limits.sheets),
  ]) if (note) console.error(note);
  if (!values.wait) return 0;
  try {
    const result = await leavingOnInterrupt(`Follow it: storyloom status ${scriptId}; stop it: storyloom cancel ${scriptId}`, () => waitWithProgress(handle));
    console.log(describeResult(result));
    const report = await storedReport(ctx, { firstRunId: handle.firstExecutionRunId });
    if (report) console.log(formatReportShort(report));
    console.log(`Full report: storyloom report ${scriptId}`);
    return result.status === 'completed' || result.status === 'completed_with_failures' ? 0 : 1;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cancelled = err.cause?.name === 'CancelledFailure';
      console.error(`Ingestion ${cancelled ? 'cancelled' : 'failed'}: ${workflowFailureMessage(err) ?? err.message}`);
      // A cancelled run wrote what it finished and its figures (up to the cancel): show them, as status does.
      if (cancelled) {
        const last = await new RunRepository(await ctx.db()).lastIngestionRun(scriptId).catch(() => undefined);
        if (last?.result?.status === 'cancelled') console.log(describeResult(last.result));
        console.log(`Full report: storyloom report ${scriptId}`);
      }
      return 1;
    }
    throw err;
  }
}
