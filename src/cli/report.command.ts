import { parseArgs } from 'node:util';
import { historyLengthFrom } from '../activities/report.activities';
import { RunRepository } from '../db/repositories/run.repository';
import { formatReport } from '../reporting/format-report';
import type { RunReport } from '../reporting/run-report';
import type { CliContext } from './context';
import { UsageError } from './temporal-client';

/** The stored report of a run (by its first run id), with the history length refreshed when Temporal answers. */
export async function storedReport(ctx: CliContext, where: { firstRunId?: string; workflowId?: string; scriptId?: string }): Promise<RunReport | undefined> {
  const report = await new RunRepository(await ctx.db()).findReport(where);
  if (!report) return undefined;
  try {
    const historyLength = historyLengthFrom(await ctx.client());
    const lengths = await Promise.all(report.runIds.map((id) => historyLength(report.workflowId, id)));
    if (lengths.every((l) => l !== null)) report.history = { events: lengths.reduce<number>((a, b) => a + (b ?? 0), 0), runs: lengths.length };
  } catch {
    // Temporal unreachable or the history is gone (retention): keep the count stored at the end of the run.
  }
  return report;
}

/** `report <scriptId | workflowId> [--json]`: the last run's report, as a table or JSON. */
export async function reportCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new UsageError('usage: storyloom report <scriptId | workflowId> [--json]');
  const target = positionals[0];
  let report = await storedReport(ctx, { workflowId: target });
  if (!report) {
    const script = await ctx.script(target).catch(() => undefined);
    if (!script) throw new UsageError(`No run report for "${target}": give a script id or title, or a workflow id.`);
    report = await storedReport(ctx, { scriptId: script.id });
    if (!report) throw new UsageError(`"${script.title}" has no finished run yet: \`storyloom ingest ${script.id} --wait\`.`);
  }
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return 0;
}
