import { type PolicyConfig, parseConfig, validateConfig } from '../../../../services/config/config';
import {
  type EvaluationContext,
  evaluateRule,
  matchesArnPattern,
  principalRuleFor,
  STACK_NAME_TAG,
} from '../../../../services/detection/policy';
import { policyWarnings, principalsCoveredBy } from '../../../../services/detection/policy-check';
import { ConfigError } from '../../../../services/shared/errors';
import type { Actor, RuleFacts } from '../../../../services/shared/model';

/** #19 case 3 (principal rules that cannot silence the bot) and case 4 (prefix lists), as pure policy. */

const GROUP = 'sg-0123456789abcdef0';
const ssh: RuleFacts = {
  groupId: GROUP,
  ruleId: 'sgr-0123456789abcdef0',
  direction: 'ingress',
  protocol: 'tcp',
  fromPort: 22,
  toPort: 22,
  source: '0.0.0.0/0',
  sourceKind: 'ipv4',
  description: null,
};
const everything: RuleFacts = { ...ssh, protocol: 'all', fromPort: null, toPort: null };

function actor(overrides: Partial<Actor> = {}): Actor {
  return {
    arn: 'arn:aws:sts::111122223333:assumed-role/PlatformEngineer/bob',
    type: 'AssumedRole',
    roleArn: 'arn:aws:iam::111122223333:role/PlatformEngineer',
    invokedBy: null,
    sourceIp: '198.51.100.1',
    userAgent: 'aws-cli/2.22.4',
    ...overrides,
  };
}

function policy(principals: unknown[]): PolicyConfig {
  return validateConfig({ slack: { alertChannel: 'C0TEST' }, policy: { principals } }, 'test').policy;
}

function context(overrides: Partial<EvaluationContext> = {}): EvaluationContext {
  return { actor: actor(), groupTags: {}, ...overrides };
}

function configError(principals: unknown[]): string {
  try {
    policy(principals);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('principal rules (#19 case 3)', () => {
  describe('matchesArnPattern: * stays within one ARN segment, ** crosses', () => {
    it.each<[string, string, boolean]>([
      ['arn:aws:iam::*:role/*-ci-deploy', 'arn:aws:iam::111122223333:role/payments-ci-deploy', true],
      // `*` no longer crosses `/` (a path) or `:` (another field).
      ['arn:aws:iam::*:role/*-ci-deploy', 'arn:aws:iam::111122223333:role/team/x-ci-deploy', false],
      ['arn:aws:iam::*:role/deploy', 'arn:aws:iam::111122223333:role/x:role/deploy', false],
      ['arn:aws:sts::*:assumed-role/*', 'arn:aws:sts::111122223333:assumed-role/Admin/alice', false],
      ['arn:aws:sts::*:assumed-role/*/*', 'arn:aws:sts::111122223333:assumed-role/Admin/alice', true],
      // `**` crosses both.
      ['arn:aws:iam::*:role/**-ci-deploy', 'arn:aws:iam::111122223333:role/team/x-ci-deploy', true],
      ['arn:aws:**', 'arn:aws:iam::111122223333:role/a/b', true],
      ['arn:aws:iam::(1)+:role/x', 'arn:aws:iam::(1)+:role/x', true],
      ['arn:aws:iam::111122223333:role/a.b', 'arn:aws:iam::111122223333:role/aXb', false],
    ])('%s against %s: %p', (pattern, value, expected) => {
      expect(matchesArnPattern(pattern, value)).toBe(expected);
    });

    it('case 3: a role path does not slip under a segment pattern in evaluation', () => {
      const p = policy([{ arn: 'arn:aws:iam::*:role/*-ci-deploy', action: 'notify' }]);
      const pathed = actor({
        arn: 'arn:aws:sts::111122223333:assumed-role/x-ci-deploy/s',
        roleArn: 'arn:aws:iam::111122223333:role/evil/x-ci-deploy',
      });

      expect(principalRuleFor(p, pathed)).toBeNull();
      expect(evaluateRule(ssh, p, context({ actor: pathed }))?.action).toBe('alert');
    });
  });

  describe('invokedBy and stack', () => {
    const cfn = actor({ invokedBy: 'cloudformation.amazonaws.com' });

    it('case 3: refuses invokedBy alone, naming the field and the expected form', () => {
      const message = configError([{ invokedBy: 'cloudformation.amazonaws.com', action: 'notify' }]);

      expect(message).toContain('policy.principals.0');
      expect(message).toContain('invokedBy alone would exempt every caller');
      expect(message).toContain('arn:aws:iam::123456789012:role/deploy');
    });

    it('case 3: refuses a service written as the principal (the old shipped rule), saying to use invokedBy', () => {
      const message = configError([{ arn: 'cloudformation.amazonaws.com', action: 'notify' }]);

      expect(message).toContain('policy.principals.0.arn');
      expect(message).toContain('names a service, not a principal');
      expect(message).toContain('invokedBy');
    });

    it('case 3: refuses an arn that is no ARN pattern, and a service that is no service principal', () => {
      expect(configError([{ arn: 'deploy-*', action: 'notify' }])).toContain('is not an ARN pattern');
      expect(
        configError([{ arn: 'arn:aws:iam::*:role/x', invokedBy: 'cloudformation', action: 'notify' }]),
      ).toContain('policy.principals.0.invokedBy: is not an AWS service principal');
    });

    it('case 3: matches a stack rule only for groups of that stack, through CloudFormation', () => {
      const p = policy([
        {
          stack: 'platform-*',
          invokedBy: 'cloudformation.amazonaws.com',
          action: 'notify',
          reason: 'platform',
        },
      ]);

      const inStack = context({ actor: cfn, groupTags: { [STACK_NAME_TAG]: 'platform-network' } });
      const otherStack = context({ actor: cfn, groupTags: { [STACK_NAME_TAG]: 'eve-sandbox' } });
      const byHand = context({ actor: actor(), groupTags: { [STACK_NAME_TAG]: 'platform-network' } });
      const tagsUnknown = context({ actor: cfn, groupTags: null });

      expect(evaluateRule(ssh, p, inStack)?.action).toBe('notify');
      expect(evaluateRule(ssh, p, otherStack)?.action).toBe('alert');
      expect(evaluateRule(ssh, p, byHand)?.action).toBe('alert');
      expect(evaluateRule(ssh, p, tagsUnknown)?.action).toBe('alert');
    });
  });

  describe('allowCritical', () => {
    it('case 3: keeps a critical finding an alert unless the rule sets allowCritical, and says why', () => {
      const p = policy([
        { arn: 'arn:aws:iam::*:role/PlatformEngineer', action: 'notify', reason: 'platform' },
      ]);

      const critical = evaluateRule(everything, p, context());
      const high = evaluateRule(ssh, p, context());

      expect(critical).toMatchObject({ severity: 'critical', action: 'alert', timeoutSeconds: 300 });
      expect(critical?.reasons.at(-1)).toContain(
        'not for critical findings (the rule does not set allowCritical)',
      );
      expect(high).toMatchObject({ severity: 'high', action: 'notify', timeoutSeconds: null });
    });

    it('case 3: lets allowCritical: true make critical findings notify-only, and ignore them', () => {
      const notify = policy([
        { arn: 'arn:aws:iam::*:role/PlatformEngineer', action: 'notify', allowCritical: true },
      ]);
      const ignore = policy([
        { arn: 'arn:aws:iam::*:role/PlatformEngineer', action: 'ignore', allowCritical: true },
      ]);
      const ignoreButNotCritical = policy([
        { arn: 'arn:aws:iam::*:role/PlatformEngineer', action: 'ignore' },
      ]);

      expect(evaluateRule(everything, notify, context())).toMatchObject({
        action: 'notify',
        timeoutSeconds: null,
      });
      expect(evaluateRule(everything, ignore, context())).toBeNull();
      expect(evaluateRule(everything, ignoreButNotCritical, context())?.action).toBe('alert');
      expect(evaluateRule(ssh, ignoreButNotCritical, context())).toBeNull();
    });
  });

  describe('policy check warnings', () => {
    it('case 3: warns when a rule covers every principal of an account, and not for named roles', () => {
      const config = parseConfig(
        [
          'slack:',
          '  alertChannel: C0TEST',
          'policy:',
          '  principals:',
          '    - { arn: "arn:aws:iam::*:role/*-ci-deploy", action: notify }',
          '    - { arn: "arn:aws:iam::111122223333:role/*", action: notify }',
          '    - { arn: "arn:aws:**", action: ignore }',
          '    - { stack: "platform-*", action: notify }',
        ].join('\n'),
        'test.yml',
      );

      const warnings = policyWarnings(config);

      expect(warnings).toHaveLength(2);
      expect(warnings[0]).toContain('policy.principals.1.arn');
      expect(warnings[0]).toContain('every role of an account');
      expect(warnings[1]).toContain('policy.principals.2.arn');
      expect(warnings[1]).toContain('every IAM user, every role, every assumed-role session');
      expect(warnings[1]).toContain('ignored');
      expect(principalsCoveredBy('arn:aws:sts::111122223333:assumed-role/*/*')).toEqual([
        'every assumed-role session',
      ]);
    });
  });
});

describe('prefix-list sources (#19 case 4)', () => {
  const p = policy([]);
  const fromList: RuleFacts = { ...ssh, source: 'pl-0123abcd4567ef890', sourceKind: 'prefix-list' };

  it('case 4: a list holding 0.0.0.0/0 violates like the CIDR would, and the reason names the list', () => {
    const finding = evaluateRule(
      fromList,
      p,
      context({ prefixLists: { 'pl-0123abcd4567ef890': ['10.0.0.0/8', '0.0.0.0/0'] } }),
    );

    expect(finding).toMatchObject({ severity: 'high', action: 'alert' });
    expect(finding?.reasons[0]).toBe(
      'prefix list pl-0123abcd4567ef890 holds 0.0.0.0/0: admin or data port 22 (SSH) open: 0.0.0.0/0 is the whole internet',
    );
  });

  it('case 4: ::/0 and wide public ranges count too, the worst entry decides', () => {
    const all = { ...fromList, protocol: 'all', fromPort: null, toPort: null };
    const finding = evaluateRule(
      all,
      p,
      context({ prefixLists: { [fromList.source]: ['::/0', '8.0.0.0/7'] } }),
    );

    expect(finding?.severity).toBe('critical');
    expect(finding?.reasons.join(' ')).toContain('holds 1 more entry that counts as the internet');
  });

  it('case 4: private ranges, allow-listed entries and a list not read raise nothing, where the internet would', () => {
    const allowListed = policy([]);
    allowListed.exceptions.sourceCidrs = ['8.0.0.0/7'];
    const lists = (entries: string[]) => context({ prefixLists: { [fromList.source]: entries } });

    expect(evaluateRule(fromList, p, lists(['10.0.0.0/8', '192.168.0.0/16']))).toBeNull();
    expect(evaluateRule(fromList, allowListed, lists(['8.0.0.0/8']))).toBeNull();
    expect(evaluateRule(fromList, p, context())).toBeNull();
    expect(evaluateRule(fromList, p, lists(['10.0.0.0/8', '8.0.0.0/8']))?.severity).toBe('high');
  });
});
