/** Human-readable forms of a RunReport: the full table and the short form `ingest --wait` prints. */
import type { RunReport } from './run-report';

/** Every job's phases in the order they run (a JSONB round trip does not keep key order). */
const PHASE_ORDER = ['summaries', 'phase2', 'outline', 'sheets', 'embeddings', 'clustering', 'synthesis', 'writing', 'preparing', 'generating'];
const phaseRank = (name: string) => (PHASE_ORDER.includes(name) ? PHASE_ORDER.indexOf(name) : PHASE_ORDER.length);

const s = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const usd = (v: number | null) => (v === null ? 'unknown' : `$${v.toFixed(v < 0.01 ? 5 : 3)}`);

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function screenplayLine(sp: NonNullable<RunReport['screenplay']>): string {
  const versions = sp.versions.length ? `version(s) ${sp.versions.join(', ')}` : 'no version saved';
  // With nothing saved, a new story's id names no story yet (its row comes with its first version).
  const story = sp.versions.length ? `story ${sp.storyId}` : `story id ${sp.storyId}, nothing saved under it by this run`;
  return (
    `Screenplay: ${story}, ${sp.versions.length} of ${sp.variants} variant(s) saved (${versions}; ${sp.variantsInFlight} at a time)` +
    `${sp.firstTokenMs !== undefined ? `; first token ${s(sp.firstTokenMs)}` : ''}${sp.truncated ? `; ${sp.truncated} TRUNCATED` : ''}` +
    `; persona queries ${sp.personaQueries ?? 'n/a'}; save commits ${sp.saveCommits}`
  );
}

export function formatReport(r: RunReport): string {
  const cost = r.totals.costUsd === null ? `unknown (no price for ${r.totals.unpricedModels.join(', ')})` : usd(r.totals.costUsd);
  return [
    `Run report — ${r.kind} ${r.workflowId} (${r.runIds.length} run${r.runIds.length > 1 ? 's' : ''}): ${r.status} in ${s(r.wallMs)}`,
    ...(r.error ? [`Error: ${r.error.type}${r.error.message ? `: ${r.error.message}` : r.error.type === 'CancelledFailure' ? ' (the run was cancelled)' : ''}`] : []),
    ...(r.screenplay ? [screenplayLine(r.screenplay)] : []),
    '',
    `Phases: ${Object.entries(r.phasesMs).sort(([a], [b]) => phaseRank(a) - phaseRank(b)).map(([k, v]) => `${k} ${s(v)}`).join(', ') || '—'}`,
    `Critical path: ${r.criticalPath.steps.map((st) => `${st.name} (${st.calls} calls, ≥ ${s(st.boundMs)})`).join(' → ')}`,
    `  lower bound ${s(r.criticalPath.lowerBoundMs)}; wall ${s(r.wallMs)}; overhead ${s(r.criticalPath.overheadMs)} (${r.criticalPath.lowerBoundMs ? (r.wallMs / r.criticalPath.lowerBoundMs).toFixed(2) : '—'}× the bound)`,
    '',
    table(
      ['purpose', 'provider', 'model', 'calls', 'cache hits', 'retries', '429s', 'errors', 'p50', 'p95', 'p99', 'max', 'tokens in', 'tokens out', 'cost'],
      r.llm.map((l) => [l.batch ? `${l.purpose} (batch)` : l.purpose, l.provider, l.model, l.calls, l.cacheHits, l.retries, l.rateLimited, l.errors, `${l.p50Ms} ms`, `${l.p95Ms} ms`, l.p99Ms === undefined ? 'n/a' : `${l.p99Ms} ms`, `${l.maxMs} ms`, l.inputTokens, l.outputTokens, usd(l.costUsd)]),
    ),
    '',
    `LLM: ${r.totals.providerCalls} provider calls${r.totals.batchCalls ? ` (${r.totals.batchCalls} in batches, at the batch discount)` : ''}, ${r.totals.cacheHits} cache hits, ${r.totals.retries} retries, ${r.totals.rateLimited} × 429; tokens ${r.totals.inputTokens} in / ${r.totals.outputTokens} out; estimated cost ${cost}`,
    `Database: ${r.db ? `${r.db.queries} queries, ${r.db.commits} commits` : 'n/a'}`,
    `Temporal history: ${r.history ? `${r.history.events} events over ${r.history.runs} run(s)` : 'n/a'}`,
  ].join('\n');
}

export function formatReportShort(r: RunReport): string {
  return (
    `Report: ${s(r.wallMs)} wall, lower bound ${s(r.criticalPath.lowerBoundMs)} (${r.criticalPath.steps.map((x) => x.name).join(' → ')}); ` +
    `${r.totals.providerCalls} LLM calls${r.totals.batchCalls ? ` (${r.totals.batchCalls} batched)` : ''}, ${r.totals.cacheHits} cache hits, ${r.totals.retries} retries, ${r.totals.rateLimited} × 429; ` +
    `cost ${usd(r.totals.costUsd)}; DB ${r.db ? `${r.db.queries} queries / ${r.db.commits} commits` : 'n/a'}; ` +
    `history ${r.history ? r.history.events : 'n/a'} events`
  );
}
