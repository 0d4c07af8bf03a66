import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

// `npm run bench` is not part of npm test; this runs its harness in its smallest mode so it cannot rot.
describe('npm run bench harness', () => {
  it('builds, measures policy evaluation and writes the table and the JSON report', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sg-warden-bench-test-')), 'bench.json');
    const run = spawnSync(
      process.execPath,
      ['scripts/bench.mjs', '--only', 'policy', '--quick', '--out', out],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );

    expect(run.stderr).not.toMatch(/FAILED|Error:/);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('6. Policy evaluation (one core)');
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.mode).toBe('quick');
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.figures).toHaveLength(1);
    const [policy] = report.figures;
    expect(policy.figure).toBe('policy');
    expect(policy.data.rulesPerSecond.median).toBeGreaterThan(1000);
    expect(policy.data.rulesPerSecond.p99).toBeLessThanOrEqual(policy.data.rulesPerSecond.median);
  }, 130_000);

  it('refuses an unknown figure with exit 2 and one sentence', () => {
    const run = spawnSync(process.execPath, ['scripts/bench.mjs', '--only', 'nope'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });

    expect(run.status).toBe(2);
    expect(run.stderr).toContain('unknown figure nope');
  }, 130_000);

  it('refuses an AWS delay that is not whole milliseconds with exit 2 and one sentence', () => {
    const run = spawnSync(
      process.execPath,
      ['scripts/bench.mjs', '--only', 'policy', '--aws-delay-ms', '30,1s'],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );

    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--aws-delay-ms takes whole milliseconds, e.g. 30 or 30,1000');
  }, 130_000);
});
