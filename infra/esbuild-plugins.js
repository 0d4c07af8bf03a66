// esbuild plugins for the functions' bundles (serverless.yml custom.esbuild.plugins; `npm run bench` applies
// the same file, bench/lib/bundle.ts). They leave out of every bundle what no function ever runs.
//
// Bolt's App module requires its HTTP and Socket Mode receivers for the case where it is given no receiver
// (App.initReceiver). sg-warden always hands it an AwsLambdaReceiver (slack/app.ts), so neither is ever
// built, yet bundled they pull in undici (1 MiB), raw-body with iconv-lite (0.5 MiB), @slack/oauth with
// jsonwebtoken, @slack/socket-mode and ws: about 2 MiB that the Slack door parsed at every cold start.
// Here App's two requires resolve to a stand-in that throws if it were ever constructed.

const UNUSED_BOLT_RECEIVERS = /^\.\/receivers\/(HTTPReceiver|SocketModeReceiver)$/;
const BOLT_APP = /[\\/]@slack[\\/]bolt[\\/]dist[\\/]App\.js$/;

/** @type {import('esbuild').Plugin} */
const boltWithoutUnusedReceivers = {
  name: 'bolt-without-unused-receivers',
  setup(build) {
    build.onResolve({ filter: UNUSED_BOLT_RECEIVERS }, (args) => {
      if (!BOLT_APP.test(args.importer)) return undefined;
      return { path: args.path.slice('./receivers/'.length), namespace: 'unused-bolt-receiver' };
    });
    build.onLoad({ filter: /.*/, namespace: 'unused-bolt-receiver' }, (args) => ({
      loader: 'js',
      contents: [
        `// Bolt's ${args.path}, left out of this bundle: sg-warden gives Bolt its AwsLambdaReceiver.`,
        'class UnusedReceiver {',
        '  constructor() {',
        `    throw new Error("Bolt's ${args.path} is not in this bundle: give the App an AwsLambdaReceiver");`,
        '  }',
        '}',
        'module.exports = { __esModule: true, default: UnusedReceiver };',
        '',
      ].join('\n'),
    }));
  },
};

module.exports = [boltWithoutUnusedReceivers];
