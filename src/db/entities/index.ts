export * from './llm-call.entity';
export * from './llm-cache-entry.entity';
export * from './smoke-result.entity';
export * from './script.entity';
export * from './scene.entity';
export * from './character.entity';
export * from './analysis.entity';
export * from './run.entity';
export * from './session.entity';
export * from './llm-batch.entity';
export * from './news.entity';
export * from './screenplay.entity';
import { CharacterSheetEntity, SceneEmbeddingEntity, SceneSummaryEntity, ScriptOutlineEntity } from './analysis.entity';
import { CharacterEntity, SceneCharacterEntity } from './character.entity';
import { LlmBatchEntity, LlmBatchItemEntity } from './llm-batch.entity';
import { ArticleEmbeddingEntity, ArticleEntity, StoryArticleEntity, StoryEntity, StoryRunEntity } from './news.entity';
import { LlmCacheEntryEntity } from './llm-cache-entry.entity';
import { LlmCallEntity } from './llm-call.entity';
import { IngestionRunEntity, RunDbStatsEntity, RunReportEntity } from './run.entity';
import { SceneEntity } from './scene.entity';
import { PersonaEntity, ScreenplayRequestEntity, ScreenplayRunEntity, ScreenplayVersionEntity, StoryCastEntity, ScreenplayStoryEntity } from './screenplay.entity';
import { ScriptEntity } from './script.entity';
import {
  PerformanceMetricEntity, PerformanceWindowEntity, SessionCharacterEntity, SessionMemoryEntity, SessionRelationshipEntity,
  SessionSettingsEntity, SessionSummaryEntity, SessionToolWriteEntity, SessionTurnEntity, StorySessionEntity,
} from './session.entity';
import { SmokeResultEntity } from './smoke-result.entity';

/** Every table the migrations create, one entity each (test/integration/schema.test.ts keeps them in step). */
export const entities = [
  LlmCallEntity, LlmCacheEntryEntity, SmokeResultEntity,
  ScriptEntity, SceneEntity, CharacterEntity, SceneCharacterEntity,
  SceneSummaryEntity, ScriptOutlineEntity, CharacterSheetEntity, SceneEmbeddingEntity,
  IngestionRunEntity, RunDbStatsEntity, RunReportEntity,
  StorySessionEntity, SessionCharacterEntity, SessionRelationshipEntity, SessionMemoryEntity, SessionTurnEntity,
  SessionToolWriteEntity, PerformanceMetricEntity, PerformanceWindowEntity, SessionSummaryEntity, SessionSettingsEntity,
  LlmBatchEntity, LlmBatchItemEntity,
  ArticleEntity, ArticleEmbeddingEntity, StoryEntity, StoryArticleEntity, StoryRunEntity,
  PersonaEntity, ScreenplayStoryEntity, ScreenplayVersionEntity, StoryCastEntity, ScreenplayRunEntity, ScreenplayRequestEntity,
];
