import { validateConfig } from '../../../../services/config/config';
import {
  alertRouteFacts,
  approversFor,
  matchesGlob,
  type RouteFacts,
  revokersFor,
  routeFor,
  worstSeverity,
} from '../../../../services/routing/routes';
import type { Actor } from '../../../../services/shared/model';

const PAYMENTS_ACCOUNT = '111122223333';
const DEPLOY = 'arn:aws:sts::111122223333:assumed-role/payments-deploy/run-42';

function config(routes: unknown[], decisions: Record<string, unknown> = {}) {
  return validateConfig({ slack: { alertChannel: 'C0ALERTS', routes }, decisions }, 'test.yml');
}

function facts(overrides: Partial<RouteFacts> = {}): RouteFacts {
  return {
    account: '999988887777',
    region: 'us-east-1',
    tags: {},
    severity: 'high',
    principals: ['arn:aws:iam::999988887777:user/someone'],
    ...overrides,
  };
}

/** One route per condition key, in order, each to its own channel. */
const ROUTES = [
  { name: 'by-account', accounts: [PAYMENTS_ACCOUNT], channel: 'C0ACCOUNT' },
  { name: 'by-region', regions: ['eu-west-1'], channel: 'C0REGION' },
  { name: 'by-tag', tags: { 'team*': 'pay*' }, channel: 'C0TAG' },
  { name: 'by-severity', severities: ['critical'], channel: 'C0SEVERITY', mention: 'S0ONCALL' },
  { name: 'by-principal', principals: ['arn:aws:sts::*:assumed-role/*-deploy/*'], channel: 'C0PRINCIPAL' },
];

describe('routing: routeFor', () => {
  const c = config(ROUTES);

  it.each([
    ['accounts', facts({ account: PAYMENTS_ACCOUNT }), 'by-account', 'C0ACCOUNT'],
    ['regions', facts({ region: 'eu-west-1' }), 'by-region', 'C0REGION'],
    ['tags (key and value globs)', facts({ tags: { team: 'payments' } }), 'by-tag', 'C0TAG'],
    ['severities', facts({ severity: 'critical' }), 'by-severity', 'C0SEVERITY'],
    ['principals (ARN pattern)', facts({ principals: [DEPLOY] }), 'by-principal', 'C0PRINCIPAL'],
  ])('matches on %s', (_key, f, route, channel) => {
    expect(routeFor(c, f)).toMatchObject({ route, channel });
  });

  it('falls back to slack.alertChannel when no route matches', () => {
    expect(routeFor(c, facts())).toEqual({ route: null, channel: 'C0ALERTS', mention: null });
    expect(routeFor(config([]), facts())).toEqual({ route: null, channel: 'C0ALERTS', mention: null });
  });

  it('takes the first route that matches, in the order written', () => {
    const all = facts({
      account: PAYMENTS_ACCOUNT,
      region: 'eu-west-1',
      tags: { team: 'payments' },
      severity: 'critical',
      principals: [DEPLOY],
    });
    expect(routeFor(c, all).route).toBe('by-account');
    expect(routeFor(config([...ROUTES].reverse()), all).route).toBe('by-principal');
  });

  it('needs every condition of a route to hold, and any entry of a list', () => {
    const both = config([
      {
        name: 'prod-payments',
        accounts: ['111122223333', '444455556666'],
        tags: { env: 'prod' },
        channel: 'C0P',
      },
    ]);
    expect(routeFor(both, facts({ account: '444455556666', tags: { env: 'prod' } })).route).toBe(
      'prod-payments',
    );
    expect(routeFor(both, facts({ account: '444455556666', tags: { env: 'dev' } })).route).toBeNull();
    expect(routeFor(both, facts({ account: '999988887777', tags: { env: 'prod' } })).route).toBeNull();
  });

  it('never matches a tag condition when the tags could not be read from EC2', () => {
    expect(routeFor(c, facts({ tags: null })).route).toBeNull();
    expect(routeFor(c, facts({ tags: { team: 'platform' } })).route).toBeNull();
    expect(routeFor(c, facts({ tags: { owner: 'payments' } })).route).toBeNull();
  });

  it('keeps * within one ARN segment for principals, as the policy does', () => {
    const nested = 'arn:aws:sts::111122223333:assumed-role/x/payments-deploy/run';
    expect(routeFor(c, facts({ principals: [nested] })).route).toBeNull();
    // The role's ARN counts too (an assumed role's session is the principal, its role the issuer).
    const viaRole = config([{ name: 'ci', principals: ['arn:aws:iam::*:role/ci-*'], channel: 'C0CI' }]);
    expect(
      routeFor(
        viaRole,
        facts({ principals: ['arn:aws:sts::1:assumed-role/ci-a/s', 'arn:aws:iam::111122223333:role/ci-a'] }),
      ).route,
    ).toBe('ci');
  });

  it('mentions the route’s user group on critical alerts only', () => {
    const mentioning = config([{ name: 'all', tags: { team: '*' }, channel: 'C0TEAM', mention: 'S0ONCALL' }]);
    expect(routeFor(mentioning, facts({ tags: { team: 'a' }, severity: 'critical' })).mention).toBe(
      'S0ONCALL',
    );
    expect(routeFor(mentioning, facts({ tags: { team: 'a' }, severity: 'high' })).mention).toBeNull();
  });

  it('routes an alert by its worst rule and by the principal and its role', () => {
    const actor: Actor = {
      arn: DEPLOY,
      type: 'AssumedRole',
      roleArn: 'arn:aws:iam::111122223333:role/payments-deploy',
      invokedBy: null,
      sourceIp: null,
      userAgent: null,
    };
    expect(
      alertRouteFacts({
        account: '1',
        region: 'r',
        actor,
        tags: null,
        severities: ['low', 'critical', 'high'],
      }),
    ).toEqual({
      account: '1',
      region: 'r',
      tags: null,
      severity: 'critical',
      principals: [DEPLOY, 'arn:aws:iam::111122223333:role/payments-deploy'],
    });
    expect(worstSeverity([])).toBe('low');
  });

  it('reads * as any run of characters and nothing else as special', () => {
    expect(matchesGlob('pay*', 'payments')).toBe(true);
    expect(matchesGlob('*', '')).toBe(true);
    expect(matchesGlob('a.b', 'axb')).toBe(false);
    expect(matchesGlob('(x)', '(x)')).toBe(true);
  });
});

describe('routing: approversFor and revokersFor', () => {
  const c = config(
    [
      {
        name: 'payments',
        accounts: [PAYMENTS_ACCOUNT],
        channel: 'C0PAY',
        revokers: { users: ['U0PAYREV'] },
        approvers: { userGroups: ['S0PAYAPPR'] },
      },
      { name: 'platform', regions: ['eu-west-1'], channel: 'C0PLAT' },
    ],
    { revokers: { users: ['U0SECREV'] }, approvers: { users: ['U0SECAPPR'] } },
  );

  it('gives the route’s own lists for what it routes', () => {
    expect(revokersFor(c, { route: 'payments' })).toEqual({ users: ['U0PAYREV'], userGroups: [] });
    expect(approversFor(c, { route: 'payments' })).toEqual({ users: [], userGroups: ['S0PAYAPPR'] });
  });

  it('falls back to decisions.* for a route without lists, no route, or a route since removed', () => {
    for (const route of ['platform', null, undefined, 'gone-since']) {
      expect(revokersFor(c, { route })).toEqual({ users: ['U0SECREV'], userGroups: [] });
      expect(approversFor(c, { route })).toEqual({ users: ['U0SECAPPR'], userGroups: [] });
    }
  });
});

describe('routing: slack.routes in the config', () => {
  const problems = (routes: unknown[]) => {
    try {
      config(routes);
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('refuses unknown keys, bad channel IDs and bad conditions with the field named', () => {
    expect(problems([{ name: 'a', channel: 'C0A', team: 'x' }])).toMatch(
      /slack\.routes\.0: Unrecognized key: "team"/,
    );
    expect(problems([{ name: 'a', channel: '#payments' }])).toContain(
      'slack.routes.0.channel: is not a Slack channel ID (C…)',
    );
    expect(problems([{ name: 'a', channel: 'C0A', accounts: ['1234'] }])).toContain(
      'slack.routes.0.accounts.0: is not an AWS account ID (12 digits)',
    );
    expect(problems([{ name: 'a', channel: 'C0A', regions: ['Ireland'] }])).toContain(
      'slack.routes.0.regions.0: is not an AWS region',
    );
    expect(problems([{ name: 'a', channel: 'C0A', severities: ['urgent'] }])).toContain(
      'slack.routes.0.severities.0',
    );
    expect(problems([{ name: 'a', channel: 'C0A', principals: ['deploy-role'] }])).toContain(
      'slack.routes.0.principals.0: "deploy-role" is not an ARN pattern',
    );
    expect(problems([{ name: 'a', channel: 'C0A', mention: 'U0ONCALL' }])).toContain(
      'slack.routes.0.mention: is not a Slack user-group ID (S…)',
    );
    expect(problems([{ name: 'a', channel: 'C0A', approvers: { users: ['alice'] } }])).toContain(
      'slack.routes.0.approvers.users.0: is not a Slack user ID (U…)',
    );
    expect(problems([{ name: 'Payments Team', channel: 'C0A' }])).toContain(
      'slack.routes.0.name: is not a route name',
    );
    expect(problems([{ name: 'a' }])).toContain('slack.routes.0.channel');
  });

  it('refuses duplicate names and a catch-all before other routes', () => {
    expect(
      problems([
        { name: 'payments', channel: 'C0A', regions: ['eu-west-1'] },
        { name: 'payments', channel: 'C0B', regions: ['us-east-1'] },
      ]),
    ).toContain('slack.routes.1.name: "payments" is already the name of route 0');
    expect(
      problems([
        { name: 'everything', channel: 'C0A' },
        { name: 'payments', channel: 'C0B', regions: ['us-east-1'] },
      ]),
    ).toContain('slack.routes.0: "everything" has no condition');
    expect(
      problems([
        { name: 'payments', channel: 'C0B', regions: ['us-east-1'] },
        { name: 'rest', channel: 'C0A' },
      ]),
    ).toBe('');
  });

  it('leaves a route without lists without lists (decisions.* apply), not with empty ones (anyone)', () => {
    const route = config([{ name: 'a', channel: 'C0A', regions: ['eu-west-1'] }]).slack.routes[0]!;
    expect(route.revokers).toBeUndefined();
    expect(route.approvers).toBeUndefined();
  });
});
