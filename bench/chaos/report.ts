/** The chaos run's report: bench/results/chaos-latest.md (a table per case, the secrets search) and a dated JSON. */
import { cpus, loadavg, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CaseResult } from './run';
import type { SecretsReport } from './secrets';

export interface ChaosReport {
  startedAt: Date;
  finishedAt: Date;
  timeScale: number;
  scenes: number;
  characters: number;
  results: CaseResult[];
  secrets: SecretsReport | undefined;
  /** The run's own arguments (a re-judged report keeps those of the run it judges). */
  argv?: string[];
}

const s = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)}`);
const cell = (v: unknown) => (v === undefined || v === null ? '—' : String(v).replace(/\|/g, '\\|').replace(/\n/g, ' '));

function errorsCell(errors: Record<string, number> | undefined): string {
  const entries = Object.entries(errors ?? {}).filter(([, n]) => n > 0);
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(', ') : '0';
}

export function formatChaosMarkdown(r: ChaosReport, argv: string[]): string {
  const lines: string[] = [];
  const minutes = (r.finishedAt.getTime() - r.startedAt.getTime()) / 60_000;
  lines.push(
    `**storyloom chaos — ${r.startedAt.toISOString()} — time scale ${r.timeScale} — ${minutes.toFixed(1)} min in all — ` +
      `${r.scenes} scenes, ${r.characters} characters per case — ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load avg ${loadavg()[0].toFixed(2)}** — ` +
      `\`npm run chaos${argv.length ? ` -- ${argv.join(' ')}` : ''}\``,
    '',
    '| case | fault | status | wall s | items lost | rows duplicated | requests (vs baseline) | in flight at fault | requests missing from call log | provider errors | recover s | needed a human | verdict |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|',
  );
  for (const c of r.results) {
    if (c.notApplicable) {
      lines.push(`| ${c.id} | ${cell(c.title)} | n/a: ${cell(c.notApplicable)} | | | | | | | | | | — |`);
      continue;
    }
    const repeated = c.repeated === undefined ? '' : ` (${c.repeated >= 0 ? '+' : ''}${c.repeated})`;
    lines.push(
      `| ${c.id} | ${cell(c.title)}${notes(c)}${rateBoundNote(c)} | ${cell(c.status)}${c.error ? `: ${cell(c.error).slice(0, 160)}` : ''} | ${s(c.wallMs)} | ` +
        `${c.expect === 'completes' ? cell(c.itemsLost) : `— (${cell(c.itemsLost)} not done)`} | ${cell(c.db?.duplicated)} | ${cell(c.requests)}${repeated} | ${inFlightCell(c)} | ${cell(c.missingFromCallLog)}${c.unloggedInFlight ? ` (+${c.unloggedInFlight} killed in flight)` : ''}${c.billedWithoutTokens ? `; ${c.billedWithoutTokens} billed, logged without tokens` : ''} | ` +
        `${errorsCell(c.providerErrors)} | ${c.fault ? s(c.recoveryMs) : '—'} | ${cell(c.neededHuman)} | ${c.pass ? '✅' : '❌'} ${cell(c.verdict)} |`,
    );
  }
  lines.push(
    '',
    'Columns: **items lost** = scenes without a summary or an embedding, characters without a sheet, a missing outline, from the database after the run ' +
      '(stories cases: clusters of the day without a story; screenplay cases: requested variants without their saved version, versions without their cast; ' +
      'session cases: turns not recorded as completed, write tool calls of the turns without their write); ' +
      '**rows duplicated** = rows beyond one per item in scene_summaries, scene_embeddings, character_sheets, script_outlines, repeated llm_calls call keys and ingestion_runs rows ' +
      '(stories cases: stories beyond one per story hash of the day, story_articles beyond one per article, repeated story_runs rows and llm_calls call keys; ' +
      'screenplay cases: screenplay_versions beyond one per variant of the run or of its story, story_cast beyond one per version and character, run_reports beyond one, repeated call keys; ' +
      'session cases: session_turns beyond one per turn or beyond the turns sent, session_tool_writes of no tool call a turn recorded, session_memories beyond one per turn and text, ' +
      'takeTurn Updates accepted twice in the history, repeated call keys); ' +
      '**requests** = provider requests the simulator received, and in brackets the difference from the fault-free baseline run of the same size (retries and repeated calls); ' +
      '**in flight at fault** = simulator requests open at the moment of the kill or cut; after a worker SIGKILL, the LLM activities the kill cut short, by type, from the call keys ' +
      '(activities whose attempt on the killed worker left no llm_calls row: their request was open at the simulator, answered but not yet reported as the activity\'s result — a loaded machine widens that window — ' +
      'or not sent yet), and in brackets the requests open at the simulator when the kill was sent; a kill should repeat at most one call per activity it cut short; ' +
      '**requests missing from call log** = provider requests the simulator received minus llm_calls rows (cache hits aside); ' +
      'requests of activities a worker SIGKILL cut short are shown apart ("killed in flight", at most one per such activity): the simulator, like a provider, sees a half-closed connection, finishes and bills the answer, but the process that would log it is gone — they are the calls the run repeats; ' +
      '"billed, logged without tokens" = 200 answers the simulator finished (schema-breaking ones included) beyond the rows that carry their tokens (outcome ok or LlmInvalidOutput): requests our side gave up on (timeout, cut connection) after the provider had answered; ' +
      '**recover s** = from the repair (worker or server back, proxy restored, fault window over) to the next item done (api-kill: from the restarted API listening to the SSE client\'s next event; ' +
      'screenplay: to the next variant saved; session: to the killed turn\'s reply reaching the client); ' +
      'a session case is completed when every turn\'s Update was answered with its turn number, the session\'s workflow is still running and idle, and every Update accepted in its history completed; ' +
      '**needed a human** = 1 when the run did not complete by itself within the deadline (for 401/404 that is the right outcome: a key or a model name to fix). ' +
      'Postgres faults are made by a TCP proxy between the workers and Postgres (the shared server is never stopped); outage lengths are real seconds at any time scale.',
  );
  if (r.secrets) {
    lines.push('', '### Where secrets and script text appear', '', `Searched: ${r.secrets.how}.`, '');
    lines.push('| needle | histories holding it | worker logs (lines) | dev-server log (lines) | call log (llm_calls rows) | other tables (rows) |', '|---|---:|---:|---:|---:|---|');
    for (const n of r.secrets.needles) {
      const { llm_calls: callLog, ...others } = n.tables;
      const other = Object.entries(others).map(([t, k]) => `${t} ${k}`).join(', ') || 'none';
      const decoded = n.histories.decodedOnly ? ` (${n.histories.decodedOnly} only once payloads are base64-decoded)` : '';
      lines.push(`| ${n.name}: \`${cell(n.shown)}\` | ${n.histories.holding} of ${n.histories.searched}${decoded} | ${n.workerLogLines} | ${n.serverLogLines} | ${callLog ?? 0} | ${other} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** 429 storms: the bound the provider's answers allow and the wall time against it. */
function rateBoundNote(c: ChaosReport['results'][number]): string {
  const b = c.rateBound;
  if (!b) return '';
  const wait = b.retryAfterMs ? `each of its ${b.rateLimited} 429s followed by the ${s(b.retryAfterMs)} s it asked for` : `its ${b.rateLimited} 429s retried at once`;
  return ` — the provider's answers permit ${s(b.boundMs)} s (${wait}, through the run's windows): wall ${b.ratio.toFixed(2)}× that${b.target ? ` (target ≤ ${b.target}×)` : ''}`;
}

/** Writes `<name>.md` (default chaos-latest.md) and a dated JSON; returns their paths. */
export function writeChaosReport(root: string, name: string, r: ChaosReport): string[] {
  const dir = path.join(root, 'bench', 'results');
  const md = path.join(dir, `${name}.md`);
  const json = path.join(dir, `${r.startedAt.toISOString().slice(0, 16).replace(/:/g, '')}-${name === 'chaos-latest' ? 'chaos' : name}.json`);
  const argv = r.argv ?? process.argv.slice(2);
  writeFileSync(md, formatChaosMarkdown(r, argv));
  writeFileSync(json, `${JSON.stringify({ ...r, argv, loadavg: loadavg() }, null, 2)}\n`);
  return [path.relative(root, md), path.relative(root, json)];
}

/** In flight at the fault: after a kill, the killed worker's unfinished calls by activity type, and how many were open at the simulator. */
function inFlightCell(c: CaseResult): string {
  if (c.killedInFlight !== undefined) {
    const types = Object.entries(c.db?.rowlessAttempts ?? {}).map(([t, n]) => `${t} ${n}`).join(', ');
    return `${c.killedInFlight}${types ? ` (${types}; ${c.fault?.inFlight ?? 0} open)` : ''}`;
  }
  return c.fault && c.fault.inFlight ? String(c.fault.inFlight) : '—';
}

/** The fault's note and the case's own findings, after the case's title. */
function notes(c: CaseResult): string {
  const all = [c.fault?.note, c.note].filter(Boolean);
  return all.length ? ` — ${cell(all.join('; '))}` : '';
}
