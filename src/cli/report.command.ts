import { parseArgs } from 'node:util';
import { AmbiguousTitleError } from '../db/repositories/script.repository';
import { formatReport } from '../reporting/format-report';
import { storedReport } from '../operations/stored-report';
import { runKind } from '../api/run-kinds';
import type { CliContext } from './context';
import { UsageError } from './temporal-client';

/** Moved to src/operations (the API reports too); kept here for the commands that import it from the CLI. */
export { storedReport };

/** `report <scriptId | workflowId> [--json]`: the last run's report, as a table or JSON. */
export async function reportCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new UsageError('usage: storyloom report <scriptId | workflowId> [--json]');
  const target = positionals[0];
  let report = await storedReport(ctx, { workflowId: target });
  if (!report) {
    // No script by that name is "no report"; a title several scripts share says so, listing them.
    const script = await ctx.script(target).catch((err: unknown) => {
      if ((err as Error).cause instanceof AmbiguousTitleError) throw err;
      return undefined;
    });
    if (!script) {
      // A workflow id of a job that stores no report (a story session): say so, not "give a workflow id".
      const kind = runKind(target);
      if (kind && !kind.report) {
        const session = kind.type === 'storySession' ? target.slice(kind.idPrefix.length) : '';
        throw new UsageError(
          `${target}: ${kind.plural} store no run report (${kind.type} runs have none)${session ? `; \`storyloom metrics --session ${session}\` shows the session's figures` : ''}.`,
        );
      }
      throw new UsageError(`No run report for "${target}": give a script id or title, or a workflow id.`);
    }
    report = await storedReport(ctx, { scriptId: script.id });
    if (!report) throw new UsageError(`"${script.title}" has no finished run yet: \`storyloom ingest ${script.id} --wait\`.`);
  }
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return 0;
}
