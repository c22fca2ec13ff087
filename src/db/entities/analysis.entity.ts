/** What ingestion derives from a script: one row per scene, script or character, rewritten when its input changes. */
import { EntitySchema } from 'typeorm';
import { bigintAsNumber, cascadingForeignKey } from './columns';

export interface SceneSummary {
  sceneId: number;
  /** The scene's content hash the summary was made from. */
  contentHash: string;
  model: string;
  promptVersion: string;
  summary: string;
  updatedAt: Date;
}

export const SceneSummaryEntity = new EntitySchema<SceneSummary>({
  name: 'SceneSummary',
  tableName: 'scene_summaries',
  columns: {
    sceneId: { name: 'scene_id', type: 'bigint', primary: true, transformer: bigintAsNumber },
    contentHash: { name: 'content_hash', type: 'text' },
    model: { type: 'text' },
    promptVersion: { name: 'prompt_version', type: 'text' },
    summary: { type: 'text' },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
  },
  foreignKeys: [cascadingForeignKey('scene_summaries', 'scene_id', 'sceneId', 'Scene')],
});

export interface ScriptOutline {
  scriptId: string;
  outline: string;
  model: string;
  promptVersion: string;
  /** How many section calls the outline was made from (1: one call over every summary). */
  sections: number;
  inputHash: string;
  updatedAt: Date;
}

export const ScriptOutlineEntity = new EntitySchema<ScriptOutline>({
  name: 'ScriptOutline',
  tableName: 'script_outlines',
  columns: {
    scriptId: { name: 'script_id', type: 'uuid', primary: true },
    outline: { type: 'text' },
    model: { type: 'text' },
    promptVersion: { name: 'prompt_version', type: 'text' },
    sections: { type: 'integer' },
    inputHash: { name: 'input_hash', type: 'text' },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
  },
  foreignKeys: [cascadingForeignKey('script_outlines', 'script_id', 'scriptId', 'Script')],
});

export interface CharacterSheet {
  characterId: number;
  sheet: object;
  model: string;
  promptVersion: string;
  inputHash: string;
  updatedAt: Date;
}

export const CharacterSheetEntity = new EntitySchema<CharacterSheet>({
  name: 'CharacterSheet',
  tableName: 'character_sheets',
  columns: {
    characterId: { name: 'character_id', type: 'bigint', primary: true, transformer: bigintAsNumber },
    sheet: { type: 'jsonb' },
    model: { type: 'text' },
    promptVersion: { name: 'prompt_version', type: 'text' },
    inputHash: { name: 'input_hash', type: 'text' },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
  },
  foreignKeys: [cascadingForeignKey('character_sheets', 'character_id', 'characterId', 'Character')],
});

export interface SceneEmbedding {
  sceneId: number;
  inputHash: string;
  model: string;
  dimensions: number;
  embedding: number[];
  updatedAt: Date;
}

export const SceneEmbeddingEntity = new EntitySchema<SceneEmbedding>({
  name: 'SceneEmbedding',
  tableName: 'scene_embeddings',
  columns: {
    sceneId: { name: 'scene_id', type: 'bigint', primary: true, transformer: bigintAsNumber },
    inputHash: { name: 'input_hash', type: 'text' },
    model: { type: 'text' },
    dimensions: { type: 'integer' },
    embedding: { type: 'real', array: true },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
  },
  foreignKeys: [cascadingForeignKey('scene_embeddings', 'scene_id', 'sceneId', 'Scene')],
});
