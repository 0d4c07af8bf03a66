// The product's import rules (npm run lint): layers point one way, features keep to their rooms, no circles.
// Read with docs/internals.md "Where things live".
const FEATURES = 'detection|decisions|grants|runs|status';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle: split the shared part out so both sides can use it.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'services-stay-below-the-doors',
      severity: 'error',
      comment:
        'services/ is the domain: it knows nothing of Slack, the Lambda entry points, the sandbox or the CLI.',
      from: { path: '^services/' },
      to: { path: '^(slack|handlers|local|cli|web)/' },
    },
    {
      name: 'slack-only-translates',
      severity: 'error',
      comment:
        'slack/ translates Slack payloads into service calls; it is wired by handlers/, never the reverse.',
      from: { path: '^slack/' },
      to: { path: '^(handlers|local|cli)/' },
    },
    {
      name: 'web-is-not-slack',
      severity: 'error',
      comment: 'web/ (the me page) shares services with slack/, never slack/ itself.',
      from: { path: '^web/' },
      to: { path: '^(slack|handlers|local|cli)/' },
    },
    {
      name: 'shared-parts-stay-shared',
      severity: 'error',
      comment: 'kernel/, shared/ and config/ are used by every feature room and import none of them.',
      from: { path: '^services/(kernel|shared|config)/' },
      to: { path: `^services/(${FEATURES}|violations)/` },
    },
    {
      name: 'product-never-imports-tests',
      severity: 'error',
      from: { pathNot: '^(test|bench)/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|\\.cache|\\.serverless|\\.esbuild|coverage)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
  },
};
