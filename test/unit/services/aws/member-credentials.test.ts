import type { STSClient } from '@aws-sdk/client-sts';
import { MemberAccountCredentials } from '../../../../services/aws/member-credentials';
import { AccountAccessError, AwsCallError } from '../../../../services/shared/errors';

/** A fake STS: records AssumeRole inputs, answers with numbered credentials valid for `validMs`. */
function fakeSts(options: { validMs?: number; failFirst?: boolean; now: () => Date }) {
  const calls: { RoleArn?: string; RoleSessionName?: string }[] = [];
  let failures = options.failFirst ? 1 : 0;
  const client = {
    send: async (command: { input: { RoleArn?: string; RoleSessionName?: string } }) => {
      calls.push(command.input);
      if (failures-- > 0) throw Object.assign(new Error('User is not authorized'), { name: 'AccessDenied' });
      return {
        Credentials: {
          AccessKeyId: `AKIA${calls.length}`,
          SecretAccessKey: 'secret',
          SessionToken: 'token',
          Expiration: new Date(options.now().getTime() + (options.validMs ?? 3_600_000)),
        },
      };
    },
  } as unknown as STSClient;
  return { client, calls };
}

describe('MemberAccountCredentials', () => {
  let now = new Date('2026-11-23T12:00:00Z');
  const clock = () => now;

  beforeEach(() => {
    now = new Date('2026-11-23T12:00:00Z');
  });

  it('assumes the configured role in the target account, once, and reuses the credentials', async () => {
    const sts = fakeSts({ now: clock });
    const creds = new MemberAccountCredentials({
      sts: () => sts.client,
      roleName: 'sg-warden-member',
      ownAccount: '111111111111',
      clock,
    });
    const provider = creds.forTarget({ account: '222222222222', region: 'eu-west-1' })!;
    const first = await provider();
    const second = await creds.forTarget({ account: '222222222222', region: 'us-east-1' })!();
    expect(first.accessKeyId).toBe('AKIA1');
    expect(second).toBe(first);
    expect(sts.calls).toEqual([
      { RoleArn: 'arn:aws:iam::222222222222:role/sg-warden-member', RoleSessionName: 'sg-warden' },
    ]);
  });

  it('leaves the bot’s own account and `self` to the function’s own role', () => {
    const sts = fakeSts({ now: clock });
    const creds = new MemberAccountCredentials({
      sts: () => sts.client,
      roleName: 'r',
      ownAccount: '111111111111',
      clock,
    });
    expect(creds.forTarget({ account: '111111111111', region: 'eu-west-1' })).toBeUndefined();
    expect(creds.forTarget({ account: 'self', region: 'eu-west-1' })).toBeUndefined();
  });

  it('renews credentials five minutes before they expire', async () => {
    const sts = fakeSts({ now: clock, validMs: 15 * 60_000 });
    const creds = new MemberAccountCredentials({ sts: () => sts.client, roleName: 'r', clock });
    const provider = creds.forTarget({ account: '222222222222', region: 'eu-west-1' })!;
    expect((await provider()).accessKeyId).toBe('AKIA1');
    now = new Date(now.getTime() + 9 * 60_000);
    expect((await provider()).accessKeyId).toBe('AKIA1');
    now = new Date(now.getTime() + 2 * 60_000);
    expect((await provider()).accessKeyId).toBe('AKIA2');
  });

  it('does not cache a refusal: the error names the role, and the next call tries again', async () => {
    const sts = fakeSts({ now: clock, failFirst: true });
    const creds = new MemberAccountCredentials({
      sts: () => sts.client,
      roleName: 'sg-warden-member',
      clock,
    });
    const provider = creds.forTarget({ account: '222222222222', region: 'eu-west-1' })!;
    const error = await provider().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsCallError);
    expect((error as AwsCallError).message).toContain('arn:aws:iam::222222222222:role/sg-warden-member');
    expect((error as AwsCallError).awsCode).toBe('AccessDenied');
    expect((await provider()).accessKeyId).toBe('AKIA2');
  });

  it('#12.3 says "sg-warden cannot act in account …" when STS refuses the role, and leaves a throttle retryable', async () => {
    const refusing = {
      send: async () => {
        throw Object.assign(new Error('not authorized to perform sts:AssumeRole'), {
          name: 'AccessDenied',
          $metadata: { httpStatusCode: 403 },
        });
      },
    } as unknown as STSClient;
    const throttled = {
      send: async () => {
        throw Object.assign(new Error('Rate exceeded'), {
          name: 'Throttling',
          $metadata: { httpStatusCode: 400 },
        });
      },
    } as unknown as STSClient;
    const target = { account: '222222222222', region: 'eu-west-1' };

    const refused = await new MemberAccountCredentials({
      sts: () => refusing,
      roleName: 'sg-warden-member',
      clock,
    }).forTarget(target)!().catch((e: unknown) => e);
    const slowed = await new MemberAccountCredentials({
      sts: () => throttled,
      roleName: 'sg-warden-member',
      clock,
    }).forTarget(target)!().catch((e: unknown) => e);

    expect(refused).toBeInstanceOf(AccountAccessError);
    expect((refused as AccountAccessError).message).toMatch(
      /^sg-warden cannot act in account 222222222222: AssumeRole arn:aws:iam::222222222222:role\/sg-warden-member failed: AccessDenied/,
    );
    expect(slowed).toBeInstanceOf(AwsCallError);
    expect(slowed).not.toBeInstanceOf(AccountAccessError);
  });
});
