/**
 * What one Temporal activity round costs on this machine and server, with nothing of
 * storyloom's in it: a workflow runs activities one after another (each only waits), and the
 * history says where a round's time goes — schedule→start, start→close beyond the wait, and the
 * refill (activity closed → next one scheduled: a workflow task). S1 reports it next to the DBOS
 * peer: it is the price of a server hop per LLM call that an in-process engine does not pay.
 */
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { BenchEnv } from './env';
import { stats, tsMs, type Ts } from './history';
import { activityRounds } from './probes/round-workflow';
import { sampleCpu } from './cpu';
import { breakdownLine, roundBreakdown, scrapeMetrics, type ServerRoundBreakdown } from './server-metrics';

const mean = (xs: number[]) => stats(xs).meanMs;

export interface RoundProfile {
  waitMs: number;
  rounds: number;
  /** Mean ms per round beyond the activity's own wait. */
  overheadMs: number;
  scheduleToStartMs: number;
  /** start→close minus the wait. */
  activityMs: number;
  /** activity closed → next one scheduled. */
  refillMs: number;
  /** The same rounds seen from inside the server (its metrics; server-metrics.ts). */
  server: ServerRoundBreakdown;
  /**
   * CPU ms per round of the server's process and of this one (the probe's worker and client), from
   * /proc (cpu.ts); null without /proc. At a pace it includes what both burn while idle, so the
   * line gives it for rounds back to back only.
   */
  cpuPerRound: { serverMs: number; workerMs: number } | null;
}

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

/** Runs the probe for each wait (a 0 ms wait: rounds back to back; longer: the server idles between them, as at S1's pace). */
export async function measureTemporalRounds(env: BenchEnv, runTag: string, cases: { rounds: number; waitMs: number }[]): Promise<RoundProfile[]> {
  const workflowQueue = `round-${runTag}`;
  const activityQueue = `round-${runTag}-activities`;
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./probes/round-workflow'), logger: silent });
  const workers = [
    await Worker.create({ connection: env.nativeConnection, taskQueue: workflowQueue, workflowBundle: { code } }),
    await Worker.create({
      connection: env.nativeConnection,
      taskQueue: activityQueue,
      activities: { wait: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) },
    }),
  ];
  const running = Promise.all(workers.map((w) => w.run()));
  const out: RoundProfile[] = [];
  try {
    for (const { rounds, waitMs } of cases) {
      const workflowId = `${workflowQueue}-${waitMs}-${rounds}`;
      const metricsBefore = await scrapeMetrics(env.temporal.metricsUrl);
      const cpuBefore = sampleCpu(env.temporal.pid);
      await env.client.workflow.execute(activityRounds, { taskQueue: workflowQueue, workflowId, args: [rounds, waitMs, activityQueue] });
      const cpuAfter = sampleCpu(env.temporal.pid);
      const metricsAfter = await scrapeMetrics(env.temporal.metricsUrl);
      const events = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const s: Record<'sched' | 'start' | 'close', number[]> = { sched: [], start: [], close: [] };
      for (const e of events) {
        const t = tsMs(e.eventTime as Ts);
        if (e.activityTaskScheduledEventAttributes) s.sched.push(t);
        if (e.activityTaskStartedEventAttributes) s.start.push(t);
        if (e.activityTaskCompletedEventAttributes) s.close.push(t);
      }
      const scheduleToStart = s.start.map((t, i) => t - s.sched[i]);
      const activity = s.close.map((t, i) => t - s.start[i] - waitMs);
      const refill = s.sched.slice(1).map((t, i) => t - s.close[i]);
      const span = s.close[s.close.length - 1] - s.sched[0];
      out.push({
        waitMs,
        rounds,
        overheadMs: (span - rounds * waitMs) / rounds,
        scheduleToStartMs: mean(scheduleToStart),
        activityMs: mean(activity),
        refillMs: mean(refill),
        server: roundBreakdown(metricsBefore, metricsAfter),
        cpuPerRound:
          cpuBefore && cpuAfter ? { serverMs: (cpuAfter.serverMs - cpuBefore.serverMs) / rounds, workerMs: (cpuAfter.benchMs - cpuBefore.benchMs) / rounds } : null,
      });
    }
  } finally {
    for (const w of workers) w.shutdown();
    await running;
  }
  return out;
}

/** "10.3 ms back to back (schedule→start 1.2, activity +2.8, refill 6.2; inside the server: …), 20.1 ms at a 500 ms pace (…)". */
export function roundLine(profiles: RoundProfile[]): string {
  const f = (x: number) => x.toFixed(1);
  return profiles
    .map((p) => `${f(p.overheadMs)} ms ${p.waitMs ? `at a ${p.waitMs} ms pace` : 'back to back'} (schedule→start ${f(p.scheduleToStartMs)}, activity +${f(p.activityMs)}, refill ${f(p.refillMs)}; ${breakdownLine(p.server)}${p.cpuPerRound && !p.waitMs ? `; CPU per round: server ${f(p.cpuPerRound.serverMs)}, worker and client ${f(p.cpuPerRound.workerMs)}` : ''})`)
    .join(', ');
}
