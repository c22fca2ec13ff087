/** The report's rows and their two renderings: fixed-width text for the terminal, and markdown. */

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

export function targetLines(targets: Target[], markdown: boolean): string {
  const mark = (m: boolean | null) => (m === null ? '?' : m ? (markdown ? '✅' : 'met') : markdown ? '❌' : 'MISSED');
  return targets.map((t) => (markdown ? `- ${mark(t.met)} **${t.row}** ${md(t.what)}: ${md(t.value)}` : `  [${mark(t.met)}] ${t.row} ${t.what}: ${t.value}`)).join('\n');
}
