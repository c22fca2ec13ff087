/**
 * The real worker process (src/worker.ts runWorkerProcess: metrics server, Runtime, workers) on
 * the tests' pre-built workflow bundle, so a test can start several on one host.
 */
const { readFileSync } = require('node:fs');
require('./ts-register');

const { runWorkerProcess } = require('../../src/worker');

runWorkerProcess({ workflowBundle: { code: readFileSync(process.env.STORYLOOM_TEST_WORKFLOW_BUNDLE, 'utf8') } }).then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
