/** Migrations in order. Listed explicitly (not globbed) so ts-jest, SWC and compiled JS all load them. */
import { LlmCallLogAndCache1763900000000 } from './1763900000000-LlmCallLogAndCache';

export const migrations = [LlmCallLogAndCache1763900000000];
