import type { EntitySchemaColumnOptions, ValueTransformer } from 'typeorm';

/** bigint ids fit a JS number here (bigserial counts rows); pg returns them as strings otherwise. */
export const bigintAsNumber: ValueTransformer = {
  to: (value: unknown) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/** A `timestamptz NOT NULL DEFAULT now()` column that the code sets itself when it means to. */
export function timestampDefaultNow(name: string): EntitySchemaColumnOptions {
  return { name, type: 'timestamptz', default: () => 'now()' };
}

/** A foreign key as the migrations named it (Postgres's default `<table>_<column>_fkey`), deleting with its parent. */
export function cascadingForeignKey(table: string, column: string, property: string, target: string) {
  return { name: `${table}_${column}_fkey`, target, columnNames: [property], referencedColumnNames: ['id'], onDelete: 'CASCADE' as const };
}
