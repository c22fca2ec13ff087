import type { Client } from '@temporalio/client';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config';
import { createDataSource, initializeDataSource, migrateDatabase, requireCurrentSchema } from '../db/data-source';
import { AmbiguousTitleError, ScriptRepository } from '../db/repositories/script.repository';
import { connectClient, UsageError } from './temporal-client';

/** What a command needs, opened on first use and closed once at the end. */
export class CliContext {
  private dbPromise?: Promise<DataSource>;
  private migrated?: Promise<string[]>;
  private clientPromise?: Promise<{ client: Client; close: () => Promise<void> }>;

  constructor(readonly config: AppConfig) {}

  /**
   * Creates the database when missing and applies pending migrations, once per command: the names
   * of the migrations applied. Postgres out of reach: a DatabaseUnreachableError saying so.
   */
  migrate(): Promise<string[]> {
    this.migrated ??= migrateDatabase(this.config.databaseUrl);
    return this.migrated;
  }

  /**
   * The database, checked to have this release's migrations (a SchemaBehindError says to run
   * `storyloom migrate`: only that command changes the schema). One that does not exist is not
   * created, as the worker does not create it: a mistyped DATABASE_URL is said (create it with
   * `storyloom migrate`), not answered from a new empty database.
   */
  db(): Promise<DataSource> {
    this.dbPromise ??= (async () => {
      if (this.migrated) await this.migrated;
      const db = createDataSource(this.config.databaseUrl, { poolSize: 4 });
      await initializeDataSource(db, this.config.databaseUrl);
      return requireCurrentSchema(db, this.config.databaseUrl);
    })();
    return this.dbPromise;
  }

  async client(): Promise<Client> {
    this.clientPromise ??= connectClient(this.config);
    return (await this.clientPromise).client;
  }

  /**
   * A script by id or title; a clear error when there is none. An argument that names no script
   * and looks like a path to a file that is not there was a mistyped file, and is reported so. A
   * title several scripts share is bad input too (exit 2), listing them (its `cause` is the
   * AmbiguousTitleError).
   */
  async script(idOrTitle: string): Promise<{ id: string; title: string; scenes: number; characters: number }> {
    let found;
    try {
      found = await new ScriptRepository(await this.db()).findScript(idOrTitle);
    } catch (err) {
      if (err instanceof AmbiguousTitleError) throw new UsageError(err.message, { cause: err });
      throw err;
    }
    if (found) return found;
    if (looksLikeFile(idOrTitle) && !existsSync(idOrTitle)) throw new UsageError(`file not found: ${idOrTitle}`);
    throw new UsageError(`No script "${idOrTitle}": import one with \`storyloom import <file>\` (it prints the id).`);
  }

  async close(): Promise<void> {
    if (this.clientPromise) await (await this.clientPromise.catch(() => undefined))?.close();
    if (this.dbPromise) await (await this.dbPromise.catch(() => undefined))?.destroy();
  }
}

const SCREENPLAY_EXTENSIONS = new Set(['.fountain', '.spmd', '.txt', '.fdx']);

/** A path separator or a screenplay file's extension: meant as a file, not a script id or title. */
export function looksLikeFile(arg: string): boolean {
  return arg.includes('/') || arg.includes(path.sep) || SCREENPLAY_EXTENSIONS.has(path.extname(arg).toLowerCase());
}
