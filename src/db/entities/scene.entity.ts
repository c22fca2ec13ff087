import { EntitySchema } from 'typeorm';
import { bigintAsNumber, cascadingForeignKey, timestampDefaultNow } from './columns';

/** One scene of a script, at its position (0-based) in the script. */
export interface Scene {
  id: number;
  scriptId: string;
  position: number;
  heading: string;
  sceneNumber: string | null;
  text: string;
  contentHash: string;
  /** When the content last changed (a re-import that only moves the scene keeps it). */
  updatedAt: Date;
}

export const SceneEntity = new EntitySchema<Scene>({
  name: 'Scene',
  tableName: 'scenes',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    scriptId: { name: 'script_id', type: 'uuid' },
    position: { type: 'integer' },
    heading: { type: 'text' },
    sceneNumber: { name: 'scene_number', type: 'text', nullable: true },
    text: { type: 'text' },
    contentHash: { name: 'content_hash', type: 'text' },
    updatedAt: timestampDefaultNow('updated_at'),
  },
  indices: [{ name: 'scenes_script_position_idx', columns: ['scriptId', 'position'], unique: true }],
  foreignKeys: [cascadingForeignKey('scenes', 'script_id', 'scriptId', 'Script')],
});
