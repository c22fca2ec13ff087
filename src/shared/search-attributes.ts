/**
 * The custom search attributes storyloom sets on its workflows, so the Web UI and
 * `temporal workflow list --query` can find a run by kind, script title or status. The server
 * must have them registered (scripts/temporal.sh and the test harness do; names and types here
 * and there must agree). Plain key objects: workflow code may import this file.
 */
import type { SearchAttributePair } from '@temporalio/common';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes';

/** The kind of job: "ingest", "smoke", "stories", "screenplay", "session". */
export const JOB_KEY: SearchAttributeKey<'KEYWORD'> = { name: 'StoryloomJob', type: 'KEYWORD' };
/** The script's title (Keyword: matched exactly or with STARTS_WITH). */
export const TITLE_KEY: SearchAttributeKey<'KEYWORD'> = { name: 'StoryloomTitle', type: 'KEYWORD' };
/** running, continued (this run handed over to the next), completed, completed_with_failures, failed, cancelled; a story session: ended. */
export const STATUS_KEY: SearchAttributeKey<'KEYWORD'> = { name: 'StoryloomStatus', type: 'KEYWORD' };
/** A story session's completed turns (Int: `StoryloomTurns > 10`). */
export const TURNS_KEY: SearchAttributeKey<'INT'> = { name: 'StoryloomTurns', type: 'INT' };

export const STORYLOOM_SEARCH_ATTRIBUTES = [JOB_KEY, TITLE_KEY, STATUS_KEY, TURNS_KEY];

export type JobKind = 'ingest' | 'smoke' | 'stories' | 'screenplay' | 'session';
export type SearchStatus = 'running' | 'continued' | 'completed' | 'completed_with_failures' | 'failed' | 'cancelled' | 'ended';

/** Keyword values are bounded by the server's visibility store; a longer title is cut. */
const MAX_TITLE_CHARS = 200;

export function storyloomSearchAttributes(job: JobKind, title: string, status: SearchStatus): SearchAttributePair[] {
  return [
    { key: JOB_KEY, value: job },
    { key: TITLE_KEY, value: title.slice(0, MAX_TITLE_CHARS) },
    { key: STATUS_KEY, value: status },
  ];
}
