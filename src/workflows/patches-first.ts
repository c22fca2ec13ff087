import { patched } from '@temporalio/workflow';

/**
 * Runs from 0.7.1 on ask for their patches at their start, before any local activity.
 *
 * Why: a local activity's result can reach the workflow in the task after the one that recorded
 * its marker (the activity ended while that task was being completed). A replay resolves it from
 * the marker one task early, and a patch first asked for right after it is not known there yet:
 * `patched()` answers false where the run had answered true, and the replay fails with a
 * nondeterminism error that stops the run (seen in the chaos case `worker-kill-phase2`). Asked
 * at the start, every patch's marker comes before the first local activity's.
 */
export const PATCHES_FIRST_PATCH = 'patches-asked-before-local-activities';

/** Asks for `patchIds` now, when this run records patches first (histories without the marker ask where they did). */
export function askPatchesFirst(patchIds: readonly string[]): void {
  if (!patched(PATCHES_FIRST_PATCH)) return;
  for (const id of patchIds) patched(id);
}

/**
 * For patches added after 0.7.1: true where the run asked for `patchId` at its start. Asked again
 * later, it is `patched()` again: SDK 1.24 does not keep a `false` it answered while replaying, so
 * a run begun by an earlier release that reaches the use live takes the new branch there (and
 * records the marker then). A patch whose run must keep the old branch to its end keeps the
 * answer given at the start (as generate-stories.ts does for its early-end pieces).
 */
export function patchedFromStart(patchId: string): boolean {
  return patched(PATCHES_FIRST_PATCH) && patched(patchId);
}
