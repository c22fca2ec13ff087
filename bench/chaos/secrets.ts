/**
 * Where the chaos run's secrets and script text ended up: the fake provider keys and a line of
 * the scripts' dialogue, searched in every workflow history (`temporal workflow show --output
 * json`, raw and with base64 payloads decoded), the worker logs, the dev server's log, the call
 * log and every table of the database. Target: the keys nowhere; script text only in the app's
 * own tables.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CaseResult } from './run';
import type { ChaosStack } from './stack';

export interface NeedleReport {
  name: string;
  /** The value with its middle masked (the keys are fake, but a report is no place for one). */
  shown: string;
  /** Histories (workflow runs) holding it, of those searched. */
  histories: { holding: number; searched: number; decodedOnly: number; example?: string };
  workerLogLines: number;
  serverLogLines: number;
  /** Rows per table holding it (llm_calls is the call log). */
  tables: Record<string, number>;
}

export interface SecretsReport {
  needles: NeedleReport[];
  /** Where the histories were read from. */
  how: string;
}

const mask = (v: string) => (v.length <= 12 ? v : `${v.slice(0, 8)}…${v.slice(-4)}`);

/** Every `"data": "<base64>"` of the history's payloads, decoded (base64 hides nothing). */
function decodedPayloads(json: string): string {
  const out: string[] = [];
  for (const m of json.matchAll(/"data"\s*:\s*"([A-Za-z0-9+/=]{4,})"/g)) out.push(Buffer.from(m[1], 'base64').toString('utf8'));
  return out.join('\n');
}

export async function searchSecrets(stack: ChaosStack, results: CaseResult[], opts: { scenes: number }, runTag: string): Promise<SecretsReport> {
  const cli = process.env.TEMPORAL_CLI || path.resolve(__dirname, '../../.tools/bin/temporal');
  const dialogue = 'Line 1 of scene 7: we ';
  const [dialogueRow] = await stack.db.query(
    "SELECT substring(text from 'Line 1 of scene 7: [^\\n]*') AS line FROM scenes WHERE text LIKE $1 LIMIT 1",
    [`%${dialogue}%`],
  );
  const needles = [
    { name: 'Anthropic API key', value: stack.keys.anthropic },
    { name: 'OpenAI API key', value: stack.keys.openai },
    { name: 'payload encryption key', value: stack.keys.payload.slice(stack.keys.payload.indexOf(':') + 1) },
    { name: 'a line of dialogue', value: (dialogueRow?.line as string | undefined) ?? `${dialogue}` },
  ];

  // Histories: every run of every case's workflow.
  const histories: { id: string; raw: string; decoded: string }[] = [];
  for (const r of results) {
    if (!r.workflowId) continue;
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId = '${r.workflowId}'` })) {
      const raw = execFileSync(cli, ['workflow', 'show', '--workflow-id', wf.workflowId, '--run-id', wf.runId, '--address', stack.server.address, '--output', 'json'], {
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
      });
      histories.push({ id: `${wf.workflowId}/${wf.runId}`, raw, decoded: decodedPayloads(raw) });
    }
  }
  const readLog = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  const workerLog = [...stack.workerLogs, ...stack.apiLogs].map(readLog).join('\n');
  const serverLog = readLog(path.join(stack.dir, 'temporal.log'));
  const tables: string[] = (
    await stack.db.query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1")
  ).map((row: { name: string }) => row.name);

  const report: NeedleReport[] = [];
  for (const needle of needles) {
    const holding = histories.filter((h) => h.raw.includes(needle.value) || h.decoded.includes(needle.value));
    const decodedOnly = holding.filter((h) => !h.raw.includes(needle.value)).length;
    const lines = (text: string) => text.split('\n').filter((l) => l.includes(needle.value)).length;
    const inTables: Record<string, number> = {};
    for (const table of tables) {
      const [row] = await stack.db.query(`SELECT count(*) AS n FROM "${table}" t WHERE row_to_json(t)::text LIKE $1`, [`%${needle.value.replace(/[\\%_]/g, '\\$&')}%`]);
      if (Number(row.n) > 0) inTables[table] = Number(row.n);
    }
    report.push({
      name: needle.name,
      shown: needle.name.includes('key') ? mask(needle.value) : needle.value,
      histories: { holding: holding.length, searched: histories.length, decodedOnly, example: holding[0]?.id },
      workerLogLines: lines(workerLog),
      serverLogLines: lines(serverLog),
      tables: inTables,
    });
  }
  return {
    needles: report,
    how: `temporal workflow show --output json for each of ${histories.length} workflow run(s) of run ${runTag} (raw JSON and base64 payloads decoded); ${stack.workerLogs.length} worker log(s) and ${stack.apiLogs.length} API log(s) at LOG_LEVEL=info; the dev server's log; every table (row_to_json)`,
  };
}
