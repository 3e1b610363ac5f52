// ESLint flat config: typescript-eslint's recommended rules on the TypeScript sources; `any` is an error
// (the boundaries are typed: src/http/request-body.ts reads request bodies, nothing casts to `any`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'templates/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // `_`-prefixed parameters are the way to say "required by the signature, not used" (express error handlers).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
