import type { DataSource } from 'typeorm';
import { SmokeResultEntity, type SmokeResult } from '../db/entities';

export type SaveSmokeResultInput = Omit<SmokeResult, 'createdAt'>;

export function createSmokeActivities(deps: { db: DataSource }) {
  return {
    /** Stores the smoke run's answer; idempotent: a retry or repeat updates the same row. */
    async saveSmokeResult(input: SaveSmokeResultInput): Promise<void> {
      await deps.db.getRepository(SmokeResultEntity).upsert(input, ['workflowId']);
    },
  };
}
