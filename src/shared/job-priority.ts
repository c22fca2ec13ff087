/**
 * Task queue priority of each job's runs (Temporal's priorityKey: 1 goes first, 5 last, unset is
 * 3). A run's activities inherit its priority, and continue-as-new keeps it. A provider's queue is
 * shared by every job, and a bulk run whose window is wider than the workers' slots keeps a
 * backlog there: in first-come order a player's turn or a writer's stream waited behind all of it
 * (21 s for a turn of 2 s beside an ingestion with a window of 50). Interactive work now takes
 * the next free slot; ingestions and stories keep the default among themselves.
 * The server must serve backlogs by priority (temporal-server-settings.ts).
 */
import type { Priority } from '@temporalio/common';

/** A session's turns: a player waits for each model step. */
export const SESSION_PRIORITY: Priority = { priorityKey: 1 };

/** A screenplay's variants: a writer watches them stream. */
export const SCREENPLAY_PRIORITY: Priority = { priorityKey: 2 };
