import neostandard from 'neostandard'

// neostandard (the style of fastify/fastify and fastify/demo) with its TypeScript rules, and a line limit.
export default [
  ...neostandard({
    ts: true,
    ignores: [
      '**/dist/**', 'coverage/**', '.tap/**', 'node_modules/**', 'openapi/**', 'packages/client/src/generated/**'
    ]
  }),
  {
    rules: {
      '@stylistic/max-len': ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }],
      // `void promise` is how this code marks a promise it deliberately leaves unawaited.
      'no-void': 'off'
    }
  }
]
