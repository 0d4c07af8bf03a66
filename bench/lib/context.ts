import type { FunctionBundle } from './bundle';

/** What the orchestrator hands every figure (through BENCH_CONTEXT). */
export interface FigureContext {
  quick: boolean;
  /** The answer figure's AWS delays, one measurement per delay (`--aws-delay-ms 30,1000`). */
  awsDelaysMs: number[];
  root: string;
  buildDir: string;
  /** sg-warden's functions, bundled as the deploy bundles them. */
  functions: FunctionBundle[];
  /** Functions serverless.yml declares whose handler file does not exist yet. */
  unwritten: string[];
  /** The minimal Bolt app (bench/anchor), bundled the same way. */
  anchor: FunctionBundle;
  nodeOptions: string | null;
  runtime: string | null;
}

/** The bundle of the function whose handler module is `module` (e.g. handlers/slack-http), if it exists. */
export function bundleFor(ctx: FigureContext, module: string): FunctionBundle | undefined {
  return ctx.functions.find((f) => f.module === module);
}
