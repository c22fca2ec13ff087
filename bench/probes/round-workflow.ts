/**
 * The probe's workflow (bench/temporal-round.ts): `rounds` activities one after another, each
 * waiting `waitMs`, on a task queue of their own — a Temporal activity round with nothing of
 * storyloom's in it.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface RoundActivities {
  wait(ms: number): Promise<void>;
}

export async function activityRounds(rounds: number, waitMs: number, activityQueue: string): Promise<void> {
  const { wait } = proxyActivities<RoundActivities>({ startToCloseTimeout: '1 minute', taskQueue: activityQueue });
  for (let i = 0; i < rounds; i++) await wait(waitMs);
}
