import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMutation, operationOf } from '../../../local/aws-recorder';
import { parseArgs } from '../../../local/sandbox';
import { deepMerge, writeSandboxConfig } from '../../../local/sandbox-config';
import type { World } from '../../../local/seed-account';
import { repoRoot } from '../../../local/shared/moto-server';

const json = (target: string) => ({ 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.0' });
const form = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

describe('the AWS state log (which calls are mutations)', () => {
  it('reads the operation from X-Amz-Target (JSON protocols) or the form Action (query protocols)', () => {
    expect(operationOf(json('DynamoDB_20120810.TransactWriteItems'), Buffer.from('{}'))).toBe(
      'TransactWriteItems',
    );
    expect(operationOf(form, Buffer.from('Action=RevokeSecurityGroupIngress&Version=2016-11-15'))).toBe(
      'RevokeSecurityGroupIngress',
    );
  });

  it('logs writes and leaves reads out', () => {
    for (const write of [
      'DynamoDB_20120810.PutItem',
      'DynamoDB_20120810.UpdateItem',
      'AmazonSSM.PutParameter',
    ]) {
      expect(isMutation('POST', json(write), Buffer.from('{}'))).toBe(true);
    }
    for (const read of ['DynamoDB_20120810.Query', 'DynamoDB_20120810.GetItem', 'AmazonSSM.GetParameters']) {
      expect(isMutation('POST', json(read), Buffer.from('{}'))).toBe(false);
    }
    expect(isMutation('POST', form, Buffer.from('Action=AuthorizeSecurityGroupIngress'))).toBe(true);
    expect(isMutation('POST', form, Buffer.from('Action=DescribeSecurityGroupRules'))).toBe(false);
  });

  it('treats an unknown REST call by its method', () => {
    expect(isMutation('PUT', {}, Buffer.alloc(0))).toBe(true);
    expect(isMutation('GET', {}, Buffer.alloc(0))).toBe(false);
  });
});

describe('npm start options', () => {
  it('defaults to port 3000, the .sg-warden folder, a 5 s sweep, and keeps state', () => {
    expect(parseArgs([])).toMatchObject({
      port: 3000,
      stateDir: join(repoRoot, '.sg-warden'),
      reset: false,
      sweepIntervalMs: 5000,
    });
  });

  it('reads --port, --reset, --sweep-every and --public-ip, with = or a space', () => {
    expect(
      parseArgs(['--port=4000', '--reset', '--sweep-every', '500ms', '--public-ip', '2001:4860::8888']),
    ).toMatchObject({
      port: 4000,
      reset: true,
      sweepIntervalMs: 500,
      publicIp: '2001:4860::8888',
    });
  });

  it('refuses bad flags with one sentence', () => {
    expect(() => parseArgs(['--port', 'eighty'])).toThrow(
      '--port must be a port number (0-65535), not "eighty"',
    );
    expect(() => parseArgs(['--sweep-every', '1ms'])).toThrow(/between 200ms and 600s/);
    expect(() => parseArgs(['--config', '/no/such/file.yml'])).toThrow(
      '--config: no such file /no/such/file.yml',
    );
    expect(() => parseArgs(['--verbose'])).toThrow('unknown option --verbose');
    expect(() => parseArgs(['--port'])).toThrow('--port needs a value');
  });
});

const world: World = {
  region: 'us-east-1',
  account: '123456789012',
  vpcId: 'vpc-0123456789abcdef0',
  groups: {
    web: { groupId: 'sg-0000000000000000a', name: 'web-public', description: '' },
    app: { groupId: 'sg-0000000000000000b', name: 'app-private', description: '' },
    bastion: { groupId: 'sg-0000000000000000c', name: 'bastion-ssh', description: '' },
    db: { groupId: 'sg-0000000000000000d', name: 'db-postgres', description: '' },
  },
  instances: [],
};

describe('the sandbox config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-config-'));
  const basePath = join(repoRoot, 'config', 'sg-warden.yml');

  it('merges objects key by key and replaces everything else', () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, e: 2 })).toEqual({
      a: { b: 1, c: [3] },
      d: 1,
      e: 2,
    });
  });

  it('is the repo policy plus the sandbox people, targets and runbooks, with the overlay on top', () => {
    const overlayPath = join(dir, 'overlay.yml');
    writeFileSync(
      overlayPath,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${group:web} is the overlay's own placeholder.
      'policy:\n  timeouts: { critical: 4s }\nwhitelist:\n  targets:\n    web: { groupId: "${group:web}", region: us-east-1, ports: [8443] }\n',
    );
    const path = join(dir, 'config.yml');
    writeSandboxConfig({ basePath, overlayPath, world, path });
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('critical: 4s');
    expect(text).toContain('high: 10m');
    expect(text).toContain('groupId: sg-0000000000000000a');
    expect(text).toContain('groupId: sg-0000000000000000c');
    expect(text).toContain('S0APPROVERS');
    expect(text).toContain('arn:aws:iam::*:role/*-ci-deploy');
  });

  it('refuses an overlay that breaks the config, naming the field', () => {
    const overlayPath = join(dir, 'bad.yml');
    writeFileSync(overlayPath, 'policy:\n  timeouts: { critical: soon }\n');
    expect(() => writeSandboxConfig({ basePath, overlayPath, world, path: join(dir, 'x.yml') })).toThrow(
      /bad\.yml \(merged sandbox config\): policy\.timeouts\.critical: "soon" is not a duration/,
    );
  });
});
