/** `npm run db:migrate`: creates the database when missing and applies pending migrations. */
import { loadConfig } from '../config';
import { migrateDatabase, redactUrl } from './data-source';

async function main(): Promise<void> {
  const config = loadConfig();
  const applied = await migrateDatabase(config.databaseUrl);
  console.log(
    applied.length
      ? `Applied ${applied.length} migration(s) to ${redactUrl(config.databaseUrl)}: ${applied.join(', ')}`
      : `Database ${redactUrl(config.databaseUrl)} is up to date.`,
  );
}

main().catch((err: unknown) => {
  console.error(`Migration failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
