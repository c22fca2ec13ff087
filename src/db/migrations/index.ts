/** Migrations in order. Listed explicitly (not globbed) so SWC, ts-node and compiled JS all load them. */
import { LlmCallLogAndCache1763900000000 } from './1763900000000-LlmCallLogAndCache';
import { ScriptIngestion1763900100000 } from './1763900100000-ScriptIngestion';

export const migrations = [LlmCallLogAndCache1763900000000, ScriptIngestion1763900100000];
