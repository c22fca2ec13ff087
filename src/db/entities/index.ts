export * from './llm-call.entity';
export * from './llm-cache-entry.entity';
export * from './smoke-result.entity';
import { LlmCacheEntryEntity } from './llm-cache-entry.entity';
import { LlmCallEntity } from './llm-call.entity';
import { SmokeResultEntity } from './smoke-result.entity';

export const entities = [LlmCallEntity, LlmCacheEntryEntity, SmokeResultEntity];
