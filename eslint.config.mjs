// Lint (`npm run lint`, part of `npm test`): type-aware rules that catch promises nobody observes,
// and an import rule that keeps workflow code deterministic. Deliberately small: only rules that
// guard against real failures, no style rules.
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Workflow files may import `@temporalio/workflow`, `src/shared/*`, other files of `src/workflows/`,
// and anything at all as `import type` (erased at compile time). Everything else (activities, db,
// llm, node built-ins, SDKs) would run inside the workflow sandbox and break determinism.
const WORKFLOW_VALUE_IMPORT =
  '^(?!(?:@temporalio/workflow|\\./[^./][^/]*|\\.\\./shared/[^./][^/]*)$)';

export default defineConfig(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', '.tools/**', 'bench/results/**'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // `void promise` does not count as handled: a rejection nobody observes hangs a workflow
      // task (issue 9) or crashes a process. Attach `.catch` or await instead.
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: WORKFLOW_VALUE_IMPORT,
              allowTypeImports: true,
              message:
                'Workflow code may import only @temporalio/workflow, src/shared/* and src/workflows/* (anything else as `import type`).',
            },
          ],
        },
      ],
    },
  },
);
