#!/usr/bin/env node
// The package's bin: runs the compiled CLI (`npm install` builds it through `prepare`).
const { main } = require('../dist/starter.js');
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
