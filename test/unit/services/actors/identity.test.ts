import { actorEmail, mappedSlackUser } from '../../../../services/actors/identity';
import { resolveActor } from '../../../../services/actors/resolve';
import { validateConfig } from '../../../../services/config/config';
import type { Actor } from '../../../../services/shared/model';

const SSO_ROLE =
  'arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PowerUser_0123456789abcdef';

function actor(arn: string, roleArn: string | null = null): Actor {
  return {
    arn,
    roleArn,
    type: roleArn ? 'AssumedRole' : 'IAMUser',
    invokedBy: null,
    sourceIp: null,
    userAgent: null,
  };
}

describe('actors: who made a change, in Slack', () => {
  it('reads the e-mail an Identity Center session is named (lower-cased)', () => {
    expect(
      actorEmail(
        actor(
          'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PowerUser_0123456789abcdef/Erin.E@Example.com',
          SSO_ROLE,
        ),
      ),
    ).toBe('erin.e@example.com');
    // Identity Center roles without a region in their path (older organisations).
    expect(
      actorEmail(
        actor(
          'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_1/a@b.io',
          'arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1',
        ),
      ),
    ).toBe('a@b.io');
  });

  it('reads the e-mail an IAM user is named, whatever its path', () => {
    expect(actorEmail(actor('arn:aws:iam::111122223333:user/people/ops/sam@example.org'))).toBe(
      'sam@example.org',
    );
  });

  it('believes no session name the caller chose: any other role, or a look-alike role outside aws-reserved', () => {
    expect(
      actorEmail(
        actor(
          'arn:aws:sts::111122223333:assumed-role/deploy/sam@example.org',
          'arn:aws:iam::111122223333:role/deploy',
        ),
      ),
    ).toBeNull();
    expect(
      actorEmail(
        actor(
          'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Fake_1/sam@example.org',
          'arn:aws:iam::111122223333:role/AWSReservedSSO_Fake_1',
        ),
      ),
    ).toBeNull();
    expect(
      actorEmail(actor('arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_1/sam@example.org')),
    ).toBeNull();
  });

  it('finds no e-mail in names that are not one', () => {
    expect(actorEmail(actor('arn:aws:iam::111122223333:user/sam'))).toBeNull();
    expect(actorEmail(actor('arn:aws:iam::111122223333:user/sam@localhost'))).toBeNull();
    expect(actorEmail(actor('arn:aws:iam::111122223333:root'))).toBeNull();
    expect(actorEmail(actor('cloudformation.amazonaws.com'))).toBeNull();
  });

  it('takes decisions.principalToSlack first, by the principal or its role', async () => {
    const config = validateConfig(
      {
        slack: { alertChannel: 'C0A' },
        decisions: { principalToSlack: { 'arn:aws:iam::*:role/AWSReservedSSO_*': 'U0MAPPED' } },
      },
      't.yml',
    );
    const sso = actor(
      'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PowerUser_0123456789abcdef/x@y.com',
      SSO_ROLE,
    );
    expect(mappedSlackUser(config, sso)).toBeNull();
    const lookups: string[] = [];
    const users = {
      userIdByEmail: async (email: string) => {
        lookups.push(email);
        return email === 'x@y.com' ? 'U0FOUND' : null;
      },
    };
    expect(await resolveActor({ config, users }, sso)).toEqual({
      kind: 'found',
      user: 'U0FOUND',
      via: 'email',
      email: 'x@y.com',
    });
    const mapped = actor(
      'arn:aws:sts::1:assumed-role/r/s',
      'arn:aws:iam::111122223333:role/AWSReservedSSO_Ops',
    );
    expect(await resolveActor({ config, users }, mapped)).toEqual({
      kind: 'found',
      user: 'U0MAPPED',
      via: 'map',
    });
    expect(lookups).toEqual(['x@y.com']);
  });

  it('says why when it cannot tell: nothing to look up, nobody has the address, Slack failed', async () => {
    const config = validateConfig({ slack: { alertChannel: 'C0A' } }, 't.yml');
    const nobody = { userIdByEmail: async () => null };
    const broken = {
      userIdByEmail: async () => {
        throw new Error('missing_scope');
      },
    };
    const sam = actor('arn:aws:iam::111122223333:user/sam@example.org');
    expect(await resolveActor({ config, users: nobody }, actor('arn:aws:iam::1:user/sam'))).toEqual({
      kind: 'none',
    });
    expect(await resolveActor({ config }, sam)).toEqual({ kind: 'none' });
    expect(await resolveActor({ config, users: nobody }, sam)).toEqual({
      kind: 'not-found',
      email: 'sam@example.org',
    });
    expect(await resolveActor({ config, users: broken }, sam)).toEqual({
      kind: 'error',
      email: 'sam@example.org',
      error: 'missing_scope',
    });
  });
});
