export * from './llm-call.entity';
export * from './llm-cache-entry.entity';
export * from './smoke-result.entity';
export * from './script.entity';
export * from './scene.entity';
export * from './character.entity';
export * from './analysis.entity';
export * from './run.entity';
export * from './screenplay.entity';
import { CharacterSheetEntity, SceneEmbeddingEntity, SceneSummaryEntity, ScriptOutlineEntity } from './analysis.entity';
import { CharacterEntity, SceneCharacterEntity } from './character.entity';
import { LlmCacheEntryEntity } from './llm-cache-entry.entity';
import { LlmCallEntity } from './llm-call.entity';
import { IngestionRunEntity, RunDbStatsEntity, RunReportEntity } from './run.entity';
import { SceneEntity } from './scene.entity';
import { PersonaEntity, ScreenplayRunEntity, ScreenplayVersionEntity, StoryCastEntity, StoryEntity } from './screenplay.entity';
import { ScriptEntity } from './script.entity';
import { SmokeResultEntity } from './smoke-result.entity';

/** Every table the migrations create, one entity each (test/integration/schema.test.ts keeps them in step). */
export const entities = [
  LlmCallEntity, LlmCacheEntryEntity, SmokeResultEntity,
  ScriptEntity, SceneEntity, CharacterEntity, SceneCharacterEntity,
  SceneSummaryEntity, ScriptOutlineEntity, CharacterSheetEntity, SceneEmbeddingEntity,
  IngestionRunEntity, RunDbStatsEntity, RunReportEntity,
  PersonaEntity, StoryEntity, ScreenplayVersionEntity, StoryCastEntity, ScreenplayRunEntity,
];
