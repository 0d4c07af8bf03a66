import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { parseDocument } from 'yaml';

/** One Lambda function as `serverless package` would bundle it. */
export interface FunctionBundle {
  /** The function's name in serverless.yml (or derived from the file name when not declared yet). */
  name: string;
  /** The handler module without extension, e.g. `handlers/cloudtrail-event`. */
  module: string;
  /** False when the handler file exists but serverless.yml does not declare it (yet). */
  declared: boolean;
  /** The bundled file to require. */
  file: string;
  jsBytes: number;
  mapBytes: number;
  /** js + map deflated, roughly what the function's zip weighs. */
  zipBytes: number;
  /** The biggest contributors to the bundle: npm package (or `(own code)`) → bytes in the output. */
  heaviest: { name: string; bytes: number }[];
}

/** Groups a metafile's per-input output bytes by npm package; the repo's own files count as one. */
function heaviestInputs(metafile: Metafile): { name: string; bytes: number }[] {
  const byName = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = match ? match[1]! : '(own code)';
      byName.set(name, (byName.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...byName.entries()]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 8);
}

export interface BundleSettings {
  options: BuildOptions;
  /** NODE_OPTIONS the functions run with (provider.environment in serverless.yml). */
  nodeOptions: string | null;
  runtime: string | null;
}

const PLUGIN_ONLY_KEYS = new Set([
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
  'config',
]);

interface ServerlessYml {
  provider?: { runtime?: string; environment?: Record<string, unknown> };
  custom?: { esbuild?: Record<string, unknown> };
  functions?: Record<string, { handler?: string }>;
}

function readServerlessYml(root: string): ServerlessYml {
  // CloudFormation tags (!Ref, !Sub…) are irrelevant here; the yaml parser keeps their values as plain data.
  const doc = parseDocument(readFileSync(join(root, 'serverless.yml'), 'utf8'), { logLevel: 'silent' });
  if (doc.errors.length > 0) throw new Error(`serverless.yml: ${doc.errors[0]!.message.split('\n')[0]}`);
  return doc.toJS() as ServerlessYml;
}

/**
 * The esbuild options serverless-esbuild uses for this repo: `custom.esbuild` from serverless.yml minus
 * the plugin's own keys, with `exclude` turned into `external`, `plugins` (a file) loaded, bundling on and
 * the node platform, as the plugin does by default.
 */
export function bundleSettings(root: string): BundleSettings {
  const yml = readServerlessYml(root);
  const custom = { ...(yml.custom?.esbuild ?? {}) };
  const exclude = Array.isArray(custom.exclude) ? (custom.exclude as string[]) : ['aws-sdk'];
  const external = Array.isArray(custom.external) ? (custom.external as string[]) : [];
  const options: Record<string, unknown> = { bundle: true, platform: 'node' };
  for (const [key, value] of Object.entries(custom)) if (!PLUGIN_ONLY_KEYS.has(key)) options[key] = value;
  options.external = [...external, ...(exclude.includes('*') ? [] : exclude)];
  // `plugins` names a file exporting esbuild plugins (or a function returning them), loaded as the plugin does.
  if (typeof custom.plugins === 'string') {
    const loaded = require(join(root, custom.plugins)) as unknown;
    const plugins = (loaded as { default?: unknown }).default ?? loaded;
    options.plugins = typeof plugins === 'function' ? (plugins as () => unknown)() : plugins;
  }
  const nodeOptions = yml.provider?.environment?.NODE_OPTIONS;
  return {
    options: options as BuildOptions,
    nodeOptions: typeof nodeOptions === 'string' ? nodeOptions : null,
    runtime: yml.provider?.runtime ?? null,
  };
}

function camelName(file: string): string {
  return file.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The functions to bundle: serverless.yml's, plus handler files it does not declare yet. */
export function functionEntries(root: string): { name: string; module: string; declared: boolean }[] {
  const yml = readServerlessYml(root);
  const entries: { name: string; module: string; declared: boolean }[] = [];
  for (const [name, fn] of Object.entries(yml.functions ?? {})) {
    if (!fn?.handler) continue;
    entries.push({ name, module: fn.handler.slice(0, fn.handler.lastIndexOf('.')), declared: true });
  }
  const handlersDir = join(root, 'handlers');
  for (const file of readdirSync(handlersDir).sort()) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
    const module = `handlers/${file.slice(0, -3)}`;
    if (entries.some((e) => e.module === module)) continue;
    if (!/export (async )?(function|const) handler\b/.test(readFileSync(join(handlersDir, file), 'utf8')))
      continue;
    entries.push({ name: camelName(file.slice(0, -3)), module, declared: false });
  }
  return entries;
}

function findEntry(root: string, module: string): string | null {
  for (const ext of ['.ts', '.js', '.mjs']) {
    const file = join(root, `${module}${ext}`);
    if (existsSync(file)) return file;
  }
  return null;
}

/** True when the handler module's source file exists (serverless.yml may declare functions not written yet). */
export function hasSource(root: string, module: string): boolean {
  return findEntry(root, module) !== null;
}

function entryFile(root: string, module: string): string {
  const file = findEntry(root, module);
  if (!file) throw new Error(`no source file for handler module ${module}`);
  return file;
}

/** Bundles one module with the deploy's esbuild options into outDir/<name>/. */
export async function bundleFunction(
  root: string,
  settings: BundleSettings,
  fn: { name: string; module: string; declared: boolean },
  outDir: string,
): Promise<FunctionBundle> {
  const dir = join(outDir, fn.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const source = entryFile(root, fn.module);
  const result = await build({
    ...settings.options,
    metafile: true,
    entryPoints: [source],
    outdir: join(dir, relative(root, join(source, '..'))),
    logLevel: 'error',
    absWorkingDir: root,
  });
  const file = join(dir, `${fn.module}.js`);
  const js = readFileSync(file);
  const map = existsSync(`${file}.map`) ? readFileSync(`${file}.map`) : Buffer.alloc(0);
  return {
    ...fn,
    file,
    jsBytes: statSync(file).size,
    mapBytes: map.length,
    zipBytes: deflateRawSync(js).length + (map.length ? deflateRawSync(map).length : 0),
    heaviest: heaviestInputs(result.metafile),
  };
}
