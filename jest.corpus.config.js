/** `npm run test:corpus`: the parser on the third-party corpus beside the repository (test/corpus). No database or server. */
const base = require('./jest.config');

module.exports = {
  testEnvironment: base.testEnvironment,
  transform: base.transform,
  roots: ['<rootDir>/test/corpus'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/corpus/check-corpus.ts',
};
