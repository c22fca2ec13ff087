/**
 * The report's rows and targets, their two renderings (fixed-width text for the terminal, and
 * markdown), and what of a scenario's report survives when the scenario fails midway.
 */

export interface Row {
  /** "S1.1" … */
  id: string;
  label: string;
  wallMs: number | null;
  boundMs: number | null;
  llmCalls: number | null;
  rateLimited: number | null;
  dbQueries: number | null;
  dbCommits: number | null;
  historyEvents: number | null;
  /**
   * Per LLM activity: mean start→close minus the provider time the simulator drew, and the
   * mean time a freed slot stays empty, in ms (see llmOverhead in scenarios/common.ts).
   */
  overhead?: string | null;
  /** Short facts for the table's last column. */
  notes: string[];
}

export interface Target {
  row: string;
  what: string;
  value: string;
  /** null: not measured (declared, or the figure was never there); the report counts it as missed. */
  met: boolean | null;
}

const secs = (ms: number | null) => (ms === null ? '—' : (ms / 1000).toFixed(ms < 10_000 ? 2 : 1));
const ratio = (r: Row) =>
  r.wallMs === null || r.boundMs === null ? '—' : r.boundMs === 0 ? (r.wallMs === 0 ? '1.00' : '∞ (bound 0)') : `${(r.wallMs / r.boundMs).toFixed(2)}×`;
const n = (v: number | null) => (v === null ? 'n/a' : String(v));

const HEAD = ['row', 'scenario', 'wall s', 'bound s', 'wall/bound', 'LLM calls', '429s', 'DB statements', 'commits', 'history events', 'LLM activity overhead ms', 'notes'];

function cells(r: Row): string[] {
  return [r.id, r.label, secs(r.wallMs), secs(r.boundMs), ratio(r), n(r.llmCalls), n(r.rateLimited), n(r.dbQueries), n(r.dbCommits), n(r.historyEvents), r.overhead ?? '—', r.notes.join('; ')];
}

export function textTable(rows: Row[]): string {
  const body = rows.map(cells);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((c) => c[i].length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7, 8, 9]);
  const line = (c: string[]) =>
    c.map((v, i) => (i === c.length - 1 ? v : numeric.has(i) ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(HEAD), widths.map((w, i) => (i === widths.length - 1 ? '-'.repeat(Math.min(w, 40)) : '-'.repeat(w))).join('  '), ...body.map(line)].join('\n');
}

const md = (s: string) => s.replace(/\|/g, '\\|');

export function markdownTable(rows: Row[]): string {
  const align = HEAD.map((_, i) => (i >= 2 && i <= 9 ? '---:' : '---'));
  return [
    `| ${HEAD.join(' | ')} |`,
    `|${align.join('|')}|`,
    ...rows.map((r) => `| ${cells(r).map(md).join(' | ')} |`),
  ].join('\n');
}

/** A target that was not measured is missed, never "?": its line says so. */
export function targetLines(targets: Target[], markdown: boolean): string {
  const mark = (m: boolean | null) => (m ? (markdown ? '✅' : 'met') : markdown ? '❌' : 'MISSED');
  const value = (t: Target) => (t.met === null && !/not measured/.test(t.value) ? `${t.value ? `${t.value} ` : ''}(not measured)` : t.value);
  return targets
    .map((t) => (markdown ? `- ${mark(t.met)} **${t.row}** ${md(t.what)}: ${md(value(t))}` : `  [${mark(t.met)}] ${t.row} ${t.what}: ${value(t)}`))
    .join('\n');
}

/**
 * What a scenario has measured so far. run.ts hands one to each scenario (`ctx.progress`); a
 * scenario that fills it as it goes (rows pushed as they are measured, targets declared up
 * front) keeps all of that in the report when it throws midway.
 */
export interface ScenarioProgress {
  rows: Row[];
  targets: Target[];
  profile: string[];
  details: Record<string, unknown>;
}

export function newProgress(): ScenarioProgress {
  return { rows: [], targets: [], profile: [], details: {} };
}

/** Targets a scenario will judge, before it measures them: until a measured one replaces it (settleTarget), each is unmeasured. */
export function declareTargets(targets: Target[], declared: readonly Pick<Target, 'row' | 'what'>[]): void {
  for (const d of declared) if (!targets.some((t) => t.row === d.row && t.what === d.what)) targets.push({ row: d.row, what: d.what, value: '', met: null });
}

/** A measured target in place of its declaration (same row and wording), or added after the others. */
export function settleTarget(targets: Target[], measured: Target): void {
  const i = targets.findIndex((t) => t.row === measured.row && t.what === measured.what);
  if (i >= 0) targets[i] = measured;
  else targets.push(measured);
}

/** Every target still unmeasured (met null) counted as missed, its value saying why. */
export function unmeasuredAsMissed(targets: readonly Target[], why: string): Target[] {
  return targets.map((t) => (t.met === null ? { ...t, value: `${t.value ? `${t.value}: ` : ''}not measured (${why})`, met: false } : t));
}

/** The row that marks a failed scenario in the table, after the rows it measured before it failed. */
export function failedRow(name: string, error: string): Row {
  return {
    id: name, label: 'FAILED (see JSON)', wallMs: null, boundMs: null, llmCalls: null, rateLimited: null,
    dbQueries: null, dbCommits: null, historyEvents: null, notes: [error.split('\n')[0]],
  };
}

/**
 * Runs one scenario with a fresh progress. Its report on success; when it throws, what it had
 * measured: the rows so far (then a FAILED row), its profile lines and details so far, and every
 * target it declared, those it never measured counted as missed with the failure as the reason.
 * Either way a target left unmeasured is a miss. `error` is the failure (the run still fails).
 */
export async function runScenario<R extends Omit<ScenarioProgress, 'details'> & { details?: Record<string, unknown> }>(
  name: string,
  run: (progress: ScenarioProgress) => Promise<R>,
): Promise<{ report: R | ScenarioProgress; error?: string }> {
  const progress = newProgress();
  try {
    const report = await run(progress);
    return { report: { ...report, targets: unmeasuredAsMissed(report.targets, 'the scenario never measured it') } };
  } catch (err) {
    const error = (err as Error)?.stack ?? String(err);
    const message = (err as Error)?.message ?? String(err);
    return {
      report: {
        ...progress,
        rows: [...progress.rows, failedRow(name, error)],
        targets: unmeasuredAsMissed(progress.targets, `${name} failed first: ${message.split('\n')[0]}`),
      },
      error,
    };
  }
}
