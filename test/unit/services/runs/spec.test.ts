import { RefusedError } from '../../../../services/kernel/refusal';
import { resolveTarget, specFor, specOf, targetOf } from '../../../../services/runs/spec';
import type { InstanceFinder, InstanceInfo } from '../../../../services/shared/ports';
import { runItem, runsConfig } from './fixtures';

const config = runsConfig();
const WEB: InstanceInfo = {
  instanceId: 'i-0aaaaaaaaaaaaaaa1',
  name: 'web-1',
  state: 'running',
  tags: { Role: 'web' },
};

/** Instances in memory: found by ID or by every tag. */
const instances: InstanceFinder = {
  instancesById: async (_region, ids) => [WEB].filter((i) => ids.includes(i.instanceId)),
  instancesByTags: async (_region, tags) =>
    [WEB].filter((i) => Object.entries(tags).every(([k, v]) => i.tags[k] === v)),
};

async function refusalOf(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RefusedError) return error.refusal;
    throw error;
  }
  return null;
}

describe('run specs', () => {
  it('reads a runbook and the ad-hoc settings, with where ad-hoc requests are posted', () => {
    expect(specFor(config, 'restart')).toMatchObject({ adHoc: false, approvalRequired: true, channel: null });
    expect(specFor(config, 'adhoc')).toMatchObject({
      adHoc: true,
      approvalRequired: true,
      channel: 'C0ADHOC',
    });
    expect(specOf(config, runItem({ adHoc: true, runbook: 'adhoc' }))?.name).toBe('adhoc');
    expect(specFor(config, 'nope')).toBeNull();
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'finds no runbook called %s (own keys only)',
    (name) => {
      expect(specFor(config, name)).toBeNull();
    },
  );

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'finds no target alias called %s (own keys only)',
    async (alias) => {
      const spec = { ...specFor(config, 'uptime')!, targets: ['web', alias] };
      expect(await refusalOf(resolveTarget({ config, instances }, spec, alias))).toEqual({
        code: 'BAD_INPUT',
        message: `"${alias}" is neither an instance ID (i-…) nor a target alias; uptime may run on web, ${alias}.`,
      });
    },
  );

  it('resolves an alias to its running instances, and an instance by the tags of an allowed alias', async () => {
    const spec = specFor(config, 'uptime')!;
    expect((await resolveTarget({ config, instances }, spec, 'web')).instances).toEqual([WEB]);
    expect((await resolveTarget({ config, instances }, spec, WEB.instanceId)).instances).toEqual([WEB]);
    expect(await refusalOf(resolveTarget({ config, instances }, spec, 'i-0bbbbbbbbbbbbbbb2'))).toMatchObject({
      code: 'BAD_INPUT',
      message: 'There is no instance i-0bbbbbbbbbbbbbbb2 in eu-west-1; nothing was sent.',
    });
  });

  it('takes the only target when none is named, and asks when there are several', () => {
    expect(targetOf(specFor(config, 'restart')!, null)).toBe('web');
    expect(() => targetOf(specFor(config, 'uptime')!, null)).toThrow(
      'Say which target: uptime may run on web, i-0123456789abcdef0.',
    );
  });
});
