import { parseConfig } from '../../../services/config/config';
import { sessionsResources } from '../../../services/deploy/sessions';

const config = (extra: string) =>
  parseConfig(
    `slack: { alertChannel: C0ALERTS }
whitelist:
  targets:
    bastion: { groupId: sg-0123456789abcdef0, region: eu-west-1, ports: [22], ${extra} }
`,
    'test.yml',
  );

describe('sessionsResources (the end-sessions document and its IAM)', () => {
  it('creates nothing when the config ends no sessions', () => {
    expect(sessionsResources(config('endSessions: false'), { stage: 'prod', region: 'eu-west-1' })).toEqual({
      Resources: {},
    });
  });

  it('refuses a target in another region than the stack (the document lives in the stack’s region)', () => {
    expect(() =>
      sessionsResources(config('endSessions: true'), { stage: 'prod', region: 'us-east-1' }),
    ).toThrow(
      "whitelist.targets.bastion.endSessions: the end-sessions document is deployed in us-east-1 (the stack's region) only, and bastion is in eu-west-1",
    );
  });

  it('gives the worker, the sweeper and detection (the backstop fired) the document, the sweeper alone the results', () => {
    const { Resources } = sessionsResources(config('endSessions: true'), {
      stage: 'prod',
      region: 'eu-west-1',
    });
    expect(Object.keys(Resources).sort()).toEqual([
      'CloudtrailEventRoleEndSessionsPolicy',
      'EndSessionsDocument',
      'SlackWorkerRoleEndSessionsPolicy',
      'SweeperRoleEndSessionsPolicy',
      'SweeperRoleEndSessionsResultsPolicy',
    ]);
  });
});

describe('config: endSessions', () => {
  it('is refused on a target that grants no TCP, and on a member account’s target', () => {
    expect(() => config('protocol: udp, endSessions: true')).toThrow(
      'whitelist.targets.bastion.endSessions: ends TCP connections only: the target must grant tcp (or all)',
    );
    expect(() =>
      parseConfig(
        `slack: { alertChannel: C0ALERTS }
accounts: { watched: ["111122223333"], roleName: sg-warden-member }
whitelist:
  targets:
    far: { groupId: sg-0123456789abcdef0, region: eu-west-1, account: "111122223333", ports: [22], endSessions: true }
`,
        'test.yml',
      ),
    ).toThrow("whitelist.targets.far.endSessions: sessions are ended only in sg-warden's own account");
    expect(() => config('endSessions: "yes"')).toThrow(
      'whitelist.targets.bastion.endSessions: must be true or false',
    );
  });
});
