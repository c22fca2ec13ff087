/** `npm run db:migrate`: creates the database when missing and applies pending migrations. */
import { loadConfig } from '../config';
import { describeMigrations, migrateDatabase } from './data-source';

async function main(): Promise<void> {
  const config = loadConfig();
  console.log(describeMigrations(await migrateDatabase(config.databaseUrl), config.databaseUrl));
}

main().catch((err: unknown) => {
  console.error(`Migration failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
