/** An `ingestScript` that starts with a timer instead of an activity: replaying real histories against it must fail. */
import { sleep } from '@temporalio/workflow';

export async function ingestScript(): Promise<void> {
  await sleep('1 second');
}
