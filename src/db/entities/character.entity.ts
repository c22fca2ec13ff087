import { EntitySchema } from 'typeorm';
import { bigintAsNumber, cascadingForeignKey } from './columns';

/** A speaking character of a script, by the name the script gives it. */
export interface Character {
  id: number;
  scriptId: string;
  name: string;
}

export const CharacterEntity = new EntitySchema<Character>({
  name: 'Character',
  tableName: 'characters',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    scriptId: { name: 'script_id', type: 'uuid' },
    name: { type: 'text' },
  },
  uniques: [{ name: 'characters_script_id_name_key', columns: ['scriptId', 'name'] }],
  foreignKeys: [cascadingForeignKey('characters', 'script_id', 'scriptId', 'Script')],
});

/** Who speaks in which scene. */
export interface SceneCharacter {
  sceneId: number;
  characterId: number;
}

export const SceneCharacterEntity = new EntitySchema<SceneCharacter>({
  name: 'SceneCharacter',
  tableName: 'scene_characters',
  columns: {
    sceneId: { name: 'scene_id', type: 'bigint', primary: true, transformer: bigintAsNumber },
    characterId: { name: 'character_id', type: 'bigint', primary: true, transformer: bigintAsNumber },
  },
  indices: [{ name: 'scene_characters_character_idx', columns: ['characterId'] }],
  foreignKeys: [
    cascadingForeignKey('scene_characters', 'scene_id', 'sceneId', 'Scene'),
    cascadingForeignKey('scene_characters', 'character_id', 'characterId', 'Character'),
  ],
});
