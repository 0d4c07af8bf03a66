import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withPackageLock } from './package-lock';

const root = join(__dirname, '..', '..');

export interface PackagedDeploy {
  /** The config file the IAM and every config-driven resource came from. */
  configPath: string;
  /** Where serverless wrote the package (`--package`). */
  packageDir: string;
  templatePath: string;
  template: unknown;
}

/**
 * `serverless package` (offline, the real osls + esbuild) for stage prod in eu-west-1, with everything
 * config-driven taken from `config`, into a folder of its own; one package at a time across test files.
 * The packaged config stays the repository's (never deployed).
 */
export function packageDeploy(
  config: string,
  options: { params?: string[]; prefix?: string } = {},
): PackagedDeploy {
  const dir = mkdtempSync(join(tmpdir(), `${options.prefix ?? 'sg-warden-package'}-`));
  const configPath = join(dir, 'sg-warden.yml');
  writeFileSync(configPath, config);
  const packageDir = join(dir, 'out');
  const out = withPackageLock(() =>
    spawnSync(
      'npx',
      [
        'serverless',
        'package',
        '--stage',
        'prod',
        '--region',
        'eu-west-1',
        '--package',
        packageDir,
        ...(options.params ?? []),
      ],
      {
        cwd: root,
        env: {
          ...process.env,
          SG_WARDEN_CONFIG: undefined,
          SG_WARDEN_IAM_CONFIG: configPath,
          SLS_TELEMETRY_DISABLED: '1',
        },
        encoding: 'utf8',
        timeout: 170_000,
      },
    ),
  );
  if (out.status !== 0) throw new Error(`serverless package failed:\n${out.stdout}\n${out.stderr}`);
  const templatePath = join(packageDir, 'cloudformation-template-update-stack.json');
  return { configPath, packageDir, templatePath, template: JSON.parse(readFileSync(templatePath, 'utf8')) };
}
