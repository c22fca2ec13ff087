/** Personas, and the stories generated from a plot and personas: versions and their cast. */
import { EntitySchema } from 'typeorm';
import { bigintAsNumber, cascadingForeignKey, timestampDefaultNow } from './columns';

/** A persona's JSONB config (the seed's `config_data`): who it is and the context it brings to a prompt. */
export interface PersonaConfig {
  description: string;
  /** The persona's context / system prompt, put into generation prompts (trimmed to a token budget). */
  context: string;
  voiceNotes: string[];
}

export interface Persona {
  id: number;
  name: string;
  config: PersonaConfig;
  createdAt: Date;
  updatedAt: Date;
}

export const PersonaEntity = new EntitySchema<Persona>({
  name: 'Persona',
  tableName: 'personas',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    name: { type: 'text' },
    config: { type: 'jsonb' },
    createdAt: timestampDefaultNow('created_at'),
    updatedAt: timestampDefaultNow('updated_at'),
  },
  uniques: [{ name: 'personas_name_key', columns: ['name'] }],
});

/** A story written from a plot; its screenplays are its versions. */
export interface ScreenplayStory {
  id: string;
  title: string;
  plot: string;
  createdAt: Date;
  updatedAt: Date;
}

export const ScreenplayStoryEntity = new EntitySchema<ScreenplayStory>({
  name: 'ScreenplayStory',
  tableName: 'screenplay_stories',
  columns: {
    id: { type: 'uuid', primary: true },
    title: { type: 'text' },
    plot: { type: 'text' },
    createdAt: timestampDefaultNow('created_at'),
    updatedAt: timestampDefaultNow('updated_at'),
  },
});

/** One generated screenplay of a story (Fountain), numbered 1, 2, … per story. */
export interface ScreenplayVersion {
  id: number;
  storyId: string;
  version: number;
  /** `<workflowId>/<runId>/<variant>`: a retried save finds its version instead of making another. */
  saveKey: string;
  fountain: string;
  provider: string;
  model: string;
  /** Cut off at max_tokens after the continuations allowed. */
  truncated: boolean;
  continuations: number;
  /** Generation figures: tokens, time to first token, duration, cost, what the prompt trimmed. */
  stats: object;
  /** The script this version was imported as for ingestion (`--ingest`). */
  scriptId: string | null;
  createdAt: Date;
}

export const ScreenplayVersionEntity = new EntitySchema<ScreenplayVersion>({
  name: 'ScreenplayVersion',
  tableName: 'screenplay_versions',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    storyId: { name: 'story_id', type: 'uuid' },
    version: { type: 'int' },
    saveKey: { name: 'save_key', type: 'text' },
    fountain: { type: 'text' },
    provider: { type: 'text' },
    model: { type: 'text' },
    truncated: { type: 'boolean' },
    continuations: { type: 'int' },
    stats: { type: 'jsonb' },
    scriptId: { name: 'script_id', type: 'uuid', nullable: true },
    createdAt: timestampDefaultNow('created_at'),
  },
  uniques: [
    { name: 'screenplay_versions_story_id_version_key', columns: ['storyId', 'version'] },
    { name: 'screenplay_versions_save_key_key', columns: ['saveKey'] },
  ],
  foreignKeys: [cascadingForeignKey('screenplay_versions', 'story_id', 'storyId', 'ScreenplayStory')],
});

/** Who plays whom in a version: a character of the screenplay and the persona it was written for (if any). */
export interface StoryCastMember {
  versionId: number;
  character: string;
  personaId: number | null;
}

export const StoryCastEntity = new EntitySchema<StoryCastMember>({
  name: 'StoryCast',
  tableName: 'story_cast',
  columns: {
    versionId: { name: 'version_id', type: 'bigint', primary: true, transformer: bigintAsNumber },
    character: { type: 'text', primary: true },
    personaId: { name: 'persona_id', type: 'bigint', nullable: true, transformer: bigintAsNumber },
  },
  foreignKeys: [
    cascadingForeignKey('story_cast', 'version_id', 'versionId', 'ScreenplayVersion'),
    { name: 'story_cast_persona_id_fkey', target: 'Persona', columnNames: ['personaId'], referencedColumnNames: ['id'], onDelete: 'SET NULL' },
  ],
});

/** One generateScreenplay run: its request and the prompt it built (activities load it by key; history carries none of it). */
export interface ScreenplayRun {
  runKey: string;
  workflowId: string;
  storyId: string;
  title: string;
  plot: string;
  /** The personas loaded for the run, in the order asked. */
  personas: { id: number; name: string }[];
  system: string;
  prompt: string;
  /** Prompt tokens, budget, and what was trimmed to fit it. */
  promptReport: object;
  createdAt: Date;
}

export const ScreenplayRunEntity = new EntitySchema<ScreenplayRun>({
  name: 'ScreenplayRun',
  tableName: 'screenplay_runs',
  columns: {
    runKey: { name: 'run_key', type: 'text', primary: true },
    workflowId: { name: 'workflow_id', type: 'text' },
    storyId: { name: 'story_id', type: 'uuid' },
    title: { type: 'text' },
    plot: { type: 'text' },
    personas: { type: 'jsonb' },
    system: { type: 'text' },
    prompt: { type: 'text' },
    promptReport: { name: 'prompt_report', type: 'jsonb' },
    createdAt: timestampDefaultNow('created_at'),
  },
  indices: [{ name: 'screenplay_runs_story_idx', columns: ['storyId', 'createdAt'] }],
});

/** A screenplay run's plot, stored by the start under its workflow id (the input carries no plot). */
export interface ScreenplayRequest {
  workflowId: string;
  plot: string;
  createdAt: Date;
}

export const ScreenplayRequestEntity = new EntitySchema<ScreenplayRequest>({
  name: 'ScreenplayRequest',
  tableName: 'screenplay_requests',
  columns: {
    workflowId: { name: 'workflow_id', type: 'text', primary: true },
    plot: { type: 'text' },
    createdAt: timestampDefaultNow('created_at'),
  },
});
