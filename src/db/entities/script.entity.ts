import { EntitySchema } from 'typeorm';

/** An imported screenplay. A re-import updates the same row (and keeps its id). */
export interface Script {
  id: string;
  title: string;
  /** fountain | fdx */
  format: string;
  sourceName: string;
  createdAt: Date;
  updatedAt: Date;
}

export const ScriptEntity = new EntitySchema<Script>({
  name: 'Script',
  tableName: 'scripts',
  columns: {
    id: { type: 'uuid', primary: true },
    title: { type: 'text' },
    format: { type: 'text' },
    sourceName: { name: 'source_name', type: 'text' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
  },
  // An expression index on lower(title), which entity metadata cannot describe: the migration owns it.
  indices: [{ name: 'scripts_title_idx', columns: ['title'], synchronize: false }],
});
