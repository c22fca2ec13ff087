/**
 * CPU time the parts of a run used, read from /proc (Linux): the Temporal dev server's process,
 * this process (the app's workers and workflow threads, the simulator, the client) and every
 * `postgres` process on the machine. S3 reports it because on a 2 vCPU machine its pace is set
 * by CPU: the CPU a run needs, spread over every core, is a floor under its wall time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** /proc reports CPU time in USER_HZ ticks, 100 a second on Linux whatever the kernel's HZ. */
const TICK_MS = 10;

export interface CpuTimes {
  serverMs: number;
  benchMs: number;
  postgresMs: number;
}

/** A reading: the server's and this process's CPU so far, and each postgres process's by pid. */
export interface CpuSample {
  serverMs: number;
  benchMs: number;
  postgresByPid: Record<string, number>;
}

/** utime + stime (ms) from the text of /proc/<pid>/stat; the command name may hold spaces and parentheses. */
export function parseProcStat(text: string): number {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of the line; after the name, field 3 (state) is index 0.
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

function processCpuMs(pid: number | string): number {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return 0; // gone, or no /proc
  }
}

function postgresCpuByPid(): Record<string, number> {
  const byPid: Record<string, number> = {};
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') byPid[pid] = processCpuMs(pid);
    } catch {
      // exited meanwhile
    }
  }
  return byPid;
}

/** The parts' CPU so far; null where /proc is missing (not Linux). */
export function sampleCpu(serverPid: number): CpuSample | null {
  try {
    readdirSync('/proc/self');
  } catch {
    return null;
  }
  const self = process.cpuUsage();
  return { serverMs: processCpuMs(serverPid), benchMs: (self.user + self.system) / 1000, postgresByPid: postgresCpuByPid() };
}

/**
 * What the run used between two readings: Postgres process by process (one that started in
 * between counts from 0). A backend that exits in between takes its time with it, so Postgres's
 * figure is a lower bound; the app's pool keeps its connections through a run.
 */
export function cpuUsed(before: CpuSample, after: CpuSample): CpuTimes {
  let postgresMs = 0;
  for (const [pid, ms] of Object.entries(after.postgresByPid)) postgresMs += Math.max(0, ms - (before.postgresByPid[pid] ?? 0));
  return { serverMs: after.serverMs - before.serverMs, benchMs: after.benchMs - before.benchMs, postgresMs };
}

export interface CpuBudget extends CpuTimes {
  totalMs: number;
  perCallMs: number;
  cores: number;
  /** The wall time the CPU alone needs with every core busy all the time. */
  floorMs: number;
  /** floorMs over the run's bound. */
  floorOverBound: number;
}

export function cpuBudget(used: CpuTimes, calls: number, boundMs: number, cores = os.availableParallelism()): CpuBudget {
  const totalMs = used.serverMs + used.benchMs + used.postgresMs;
  const floorMs = totalMs / cores;
  return { ...used, totalMs, perCallMs: calls ? totalMs / calls : 0, cores, floorMs, floorOverBound: floorMs / boundMs };
}

/** "CPU: Temporal server 29.2 s, this process 37.3 s (…), Postgres 0.7 s = 32.6 ms per LLM call; on 2 vCPUs at least 33.6 s of wall = 1.54× the bound, before any wait". */
export function cpuLine(b: CpuBudget): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return (
    `CPU: Temporal server ${s(b.serverMs)}, this process ${s(b.benchMs)} (workers, workflow threads, simulator, client), Postgres ${s(b.postgresMs)} ` +
    `= ${b.perCallMs.toFixed(1)} ms per LLM call; on ${b.cores} vCPUs at least ${s(b.floorMs)} of wall = ${b.floorOverBound.toFixed(2)}× the bound, before any wait`
  );
}
