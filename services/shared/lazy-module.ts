/**
 * Wraps a module load (`() => require('…')`) so that it runs on first use and is remembered. For heavy
 * packages that only some code paths need: whatever a Lambda function loads before its handler runs is
 * paid on every cold start, whether the invocation needs it or not. Use `import type` for the package's
 * types and call the returned function where its values are needed.
 *
 * `require` keeps the load synchronous. esbuild leaves it a run-time require for external packages
 * (`@aws-sdk/*`, which the Lambda runtime provides) and turns it into a deferred initialiser for bundled
 * ones, so in both cases nothing of the package runs until the first call.
 */
export function lazyModule<T>(load: () => T): () => T {
  let loaded: { module: T } | undefined;
  return () => {
    loaded ??= { module: load() };
    return loaded.module;
  };
}
