import { cpuBudget, cpuLine, cpuUsed, parseProcStat, sampleCpu } from '../../bench/cpu';

describe('bench CPU budget (what S3 needs of the machine)', () => {
  it('reads utime + stime from a /proc/<pid>/stat line, whatever the command name holds', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
    const line = '4242 (temporal (dev) server) S 1 4242 4242 0 -1 4194560 1000 0 2 0 2924 190 0 0 20 0 12 0 500 0 0\n';
    expect(parseProcStat(line)).toBe((2924 + 190) * 10);
  });

  it('puts the CPU a run used against its bound: spread over every core, it is a floor under the wall', () => {
    const used = cpuUsed(
      { serverMs: 1_000, benchMs: 2_000, postgresByPid: { 10: 500 } },
      { serverMs: 30_200, benchMs: 39_300, postgresByPid: { 10: 1_100, 11: 100 } },
    );
    expect(used).toEqual({ serverMs: 29_200, benchMs: 37_300, postgresMs: 700 });
    const budget = cpuBudget(used, 2_064, 21_800, 2);
    expect(budget.totalMs).toBe(67_200);
    expect(budget.perCallMs).toBeCloseTo(32.56, 2);
    expect(budget.floorMs).toBe(33_600);
    expect(budget.floorOverBound).toBeCloseTo(1.541, 3);
    expect(cpuLine(budget)).toBe(
      'CPU: Temporal server 29.2 s, this process 37.3 s (workers, workflow threads, simulator, client), Postgres 0.7 s = 32.6 ms per LLM call; ' +
        'on 2 vCPUs at least 33.6 s of wall = 1.54× the bound, before any wait',
    );
  });

  it('counts Postgres process by process: one that exited drops out, one that started counts from 0', () => {
    // pid 10 exited after 9 s of CPU: the total falls, but the others' use still counts.
    const used = cpuUsed(
      { serverMs: 0, benchMs: 0, postgresByPid: { 10: 9_000, 12: 100 } },
      { serverMs: 0, benchMs: 0, postgresByPid: { 12: 400, 13: 250 } },
    );
    expect(used.postgresMs).toBe(550);
  });

  it('samples the CPU of a process by pid from /proc, and of this process', () => {
    // This process stands in for the server: both figures must see the CPU it burns. The burn is
    // measured in CPU, not wall time, so a loaded machine that preempts this process changes only
    // how long the test takes.
    const before = sampleCpu(process.pid);
    if (!before) throw new Error('this test runs on Linux: /proc is needed');
    const start = process.cpuUsage();
    const giveUpAt = Date.now() + 20_000;
    let burnedMs = 0;
    while (burnedMs < 200 && Date.now() < giveUpAt) {
      const used = process.cpuUsage(start);
      burnedMs = (used.user + used.system) / 1000;
    }
    const after = sampleCpu(process.pid)!;
    expect(burnedMs).toBeGreaterThanOrEqual(200);
    expect(after.benchMs - before.benchMs).toBeGreaterThanOrEqual(200);
    // /proc counts in 10 ms ticks, sampled: allow a few ticks short of what the process measured.
    expect(after.serverMs - before.serverMs).toBeGreaterThanOrEqual(150);
  });
});
