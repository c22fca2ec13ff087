/** What the scenarios share: context, report shape, warm-up, and reading a run's work and profile. */
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import type { IngestionResult } from '../../src/shared/ingestion';
import { drawnByPurpose, type Work } from '../bounds';
import type { LatencyDraw } from '../../src/llm/simulator';
import { importText, parseText, type BenchApp, type BenchEnv } from '../env';
import type { ChainHistory, LatencyStats } from '../history';
import { measureIngest, type SimDelta } from '../measure';
import type { Row, Target } from '../table';

export interface ScenarioCtx {
  env: BenchEnv;
  /** --time-scale */
  timeScale: number;
  /** --jitter: σ of the simulator's log-normal latencies (0 = the configured constants). */
  jitter: number;
  /** --pairs: how many storyloom/peer pairs S1 runs (its first pair is rows 2 and 6). */
  pairs: number;
  /** --repeat: how many times S3 runs (judged on the median run). */
  repeat: number;
  runTag: string;
  /** Progress to stderr (stdout is the report). */
  log(msg: string): void;
}

export interface ScenarioReport {
  rows: Row[];
  targets: Target[];
  /** Per-row profile lines (where the time above the bound goes). */
  profile: string[];
  details: Record<string, unknown>;
  /** How this scenario's bounds are computed (printed under its table). */
  boundNote?: string;
  /** 1-minute load average when the scenario started and ended (filled in by run.ts). */
  loadAverage?: { atStart: number; atEnd: number };
}

/**
 * One tiny ingestion with the simulator answering at once: loads the workflow bundle into the
 * worker's isolate, opens the pools and the SDK connections, so the first measured row does
 * not pay for them. The simulator's stats are reset afterwards.
 */
export async function warmUp(env: BenchEnv, app: BenchApp, tag: string): Promise<void> {
  const scale = app.sim.config().timeScale;
  app.sim.configure({ timeScale: 0 });
  const title = `warm-up ${tag}`;
  const imported = await importText(app.services.db, syntheticScreenplay({ title, scenes: 3, characters: 2, salt: title }), { title });
  await measureIngest(env, app, { scriptId: imported.scriptId, mode: 'full' });
  app.sim.configure({ timeScale: scale });
  app.sim.resetStats();
}

/** What a full ingestion of `text` must make: every scene, the outline, a sheet per speaker, every embedding. */
export function definedWork(text: string): Work {
  const parsed = parseText(text);
  return { summaries: parsed.scenes.length, outline: 1, sheets: parsed.characters.length, embeddings: parsed.scenes.length };
}

/** The outline's route and context budget, as the app under test is configured (for `outlineCallsFor`). */
export function outlineConfig(app: BenchApp) {
  return { route: app.config.llm.models.outline, contextTokens: app.config.llm.outlineContextTokens };
}

/** What the run actually had to make (provider calls it needed), from its result and the simulator. */
export function workOf(result: IngestionResult, sim: Pick<SimDelta, 'byPurpose'>): Work {
  const p = result.phases;
  const outlineCalls = sim.byPurpose.outline ?? 0;
  return {
    summaries: p.summaries.total - p.summaries.reused,
    outline: p.outline.total - p.outline.reused === 0 ? 0 : outlineCalls > 1 ? 2 : 1,
    sheets: p.sheets.total - p.sheets.reused,
    embeddings: p.embeddings.total - p.embeddings.reused,
  };
}

const fmt = (s: LatencyStats | undefined) => (s && s.count ? `${Math.round(s.meanMs)}/${Math.round(s.p95Ms)}/${Math.round(s.maxMs)}` : '—');

/** One line: schedule-to-start per LLM activity type, workflow-task turnaround, window refill. */
export function profileLine(
  id: string,
  chain: Pick<ChainHistory, 'scheduleToStart' | 'startToClose' | 'workflowTask' | 'refill'> & Partial<Pick<ChainHistory, 'workflowTaskParts'>>,
  providerMs?: Record<string, number>,
): string {
  const types = ['summarizeScene', 'writeOutline', 'generateCharacterSheet', 'embedScenes'];
  const s2s = types.filter((t) => chain.scheduleToStart[t]?.count).map((t) => `${t} ${fmt(chain.scheduleToStart[t])}`);
  const s2c = types
    .filter((t) => chain.startToClose[t]?.count)
    .map((t) => `${t} ${Math.round(chain.startToClose[t].meanMs)}${providerMs?.[t] !== undefined ? ` (provider ${Math.round(providerMs[t])})` : ''}`);
  return (
    `${id}: schedule→start ms mean/p95/max: ${s2s.join(', ') || '—'}; workflow task ms: ${fmt(chain.workflowTask)}` +
    `${chain.workflowTaskParts ? ` (to a poller ${fmt(chain.workflowTaskParts.queue)}, in the worker ${fmt(chain.workflowTaskParts.worker)})` : ''}; ` +
    `freed slot → next scheduled ms: ${fmt(chain.refill)}; start→close mean ms: ${s2c.join(', ') || '—'}`
  );
}

export const SECONDS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The chain's timeline: each activity type's first scheduling and last close, ms from the workflow's start. */
export function timelineLine(id: string, chain: Pick<ChainHistory, 'spans' | 'closedMs'>): string {
  const parts = Object.entries(chain.spans)
    .sort((a, b) => a[1].firstScheduledMs - b[1].firstScheduledMs)
    .map(([type, s]) =>
      type.endsWith('(local)')
        ? `${type}${s.count > 1 ? `×${s.count}` : ''} @${Math.round(s.lastClosedMs)}`
        : `${type}${s.count > 1 ? `×${s.count}` : ''} ${Math.round(s.firstScheduledMs)}–${Math.round(s.lastClosedMs)}`,
    );
  return `${id} timeline ms from start (activity first scheduled–last closed; local activity @ recorded): ${parts.join(', ')}; workflow closed ${Math.round(chain.closedMs)}`;
}

/** "3 defined summary call(s) never reached the provider": where the app did less than the scenario defines. */
export function missingNotes(b: { missing: Record<string, number> }): string[] {
  return Object.entries(b.missing).filter(([, n]) => n > 0).map(([p, n]) => `${n} defined ${p} call(s) never reached the provider`);
}

/** LLM activity types and the purpose of their requests. */
export const LLM_ACTIVITY_PURPOSE: Record<string, string> = {
  summarizeScene: 'summary',
  writeOutline: 'outline',
  generateCharacterSheet: 'sheet',
  embedScenes: 'embedding',
};

/**
 * What an LLM activity costs beyond its provider time, per activity type: mean start→close
 * (history) minus the mean latency the simulator drew for that purpose; and the mean time a
 * freed window slot stays empty (a call's completion → the next call scheduled).
 */
export function llmOverhead(chain: Pick<ChainHistory, 'startToClose' | 'refill'>, draws: LatencyDraw[]): { activityMs: Record<string, number>; refillMs: number | null } {
  const drawn = drawnByPurpose(draws);
  const activityMs: Record<string, number> = {};
  for (const [type, purpose] of Object.entries(LLM_ACTIVITY_PURPOSE)) {
    const s2c = chain.startToClose[type];
    const ms = drawn[purpose as keyof typeof drawn];
    if (!s2c?.count || !ms?.length) continue;
    // An activity makes one request (embeddings: its requests one after another).
    const providerPerActivity = ms.reduce((a, b) => a + b, 0) / s2c.count;
    activityMs[type] = Math.round(s2c.meanMs - providerPerActivity);
  }
  return { activityMs, refillMs: chain.refill.count ? Math.round(chain.refill.meanMs) : null };
}

/** The table's overhead cell: "summarizeScene +31, sheet +25; refill 40". */
export function overheadCell(o: ReturnType<typeof llmOverhead>): string {
  const short: Record<string, string> = { summarizeScene: 'summary', writeOutline: 'outline', generateCharacterSheet: 'sheet', embedScenes: 'embed' };
  const parts = Object.entries(o.activityMs).map(([t, ms]) => `${short[t] ?? t} +${ms}`);
  return `${parts.join(', ') || '—'}${o.refillMs !== null ? `; refill ${o.refillMs}` : ''}`;
}
