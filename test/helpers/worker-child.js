/**
 * A worker process for crash tests: the app's workers (main queue + provider queues) in a
 * child process that a test can SIGKILL. Configured by the environment the parent passes
 * (see worker-process.ts); TypeScript sources are compiled on load with SWC, as jest does.
 * Tells the parent `{ ready: true }` once its workers poll; stops cleanly on SIGTERM.
 */
const { readFileSync } = require('node:fs');
require('./ts-register');

const { NativeConnection } = require('@temporalio/worker');
const { loadConfig } = require('../../src/config');
const { createServices, createWorkers } = require('../../src/runtime');

async function main() {
  const config = loadConfig();
  const services = await createServices(config);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const workers = await createWorkers({
    connection,
    services,
    workflowBundle: { code: readFileSync(process.env.STORYLOOM_TEST_WORKFLOW_BUNDLE, 'utf8') },
  });
  const running = Promise.all(workers.map((w) => w.run()));
  const shutdown = () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  process.once('SIGTERM', shutdown);
  // A test process that dies (or times out) never leaves its worker polling behind.
  process.once('disconnect', shutdown);
  process.send?.({ ready: true });
  await running;
  await connection.close();
  await services.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
