/** The worker process: `npm run worker` (or `storyloom worker`). Runs until SIGINT/SIGTERM. */
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from './config';
import { createServices, createWorkers, runWorkers } from './runtime';

export async function runWorkerProcess(): Promise<void> {
  const config = loadConfig();
  const services = await createServices(config);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  try {
    const workers = await createWorkers({ connection, services });
    console.log(`storyloom worker polling ${config.temporal.taskQueue} (+ LLM queues) on ${config.temporal.address}`);
    await runWorkers(workers);
  } finally {
    await connection.close();
    await services.close();
  }
}

if (require.main === module) {
  runWorkerProcess().catch((err: unknown) => {
    console.error(`worker failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
