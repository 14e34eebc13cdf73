// ESLint (flat config) for the browser side: js/src, tests/e2e, tests/docs, the Playwright configs.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'js/lib/**',
      'py/**',
      'lite/**',
      'node_modules/**',
      'tests/e2e/.results/**',
      'tests/docs/.results/**',
      'bench/**'
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    files: [
      'js/src/**/*.ts',
      'tests/e2e/**/*.ts',
      'tests/docs/**/*.ts',
      'tests/playwright-base.ts',
      'playwright.config.ts',
      'playwright.docs.config.ts',
      'playwright.sw.config.ts'
    ],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/explicit-function-return-type': ['error', { allowExpressions: true }],
      eqeqeq: ['error', 'smart'],
      'no-console': 'off'
    }
  },
  {
    files: ['js/webpack.config.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', __dirname: 'readonly' }
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' }
  },
  prettier
);
