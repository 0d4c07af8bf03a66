import type { AssumeRoleCommandOutput, STSClient } from '@aws-sdk/client-sts';
import { AccountAccessError, AwsCallError } from '../shared/errors';
import type { AwsTarget } from '../shared/ports';
import { stsSdk } from './sdk';
import { callMetadata } from './sdk-errors';

/** Temporary credentials in the shape the SDK's `credentials` option takes. */
export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** Renew this long before expiry, so a call never starts with credentials about to lapse. */
const RENEW_BEFORE_MS = 5 * 60_000;

/**
 * Credentials for acting in a member account: STS AssumeRole into `arn:<partition>:iam::<account>:role/<roleName>`,
 * cached per account until shortly before they expire. The bot's own account (and targets that name no
 * account, `self`) use the function's own role: `forTarget` returns undefined for them.
 */
export class MemberAccountCredentials {
  private readonly sts: () => STSClient;
  private readonly roleName: string;
  private readonly ownAccount: string | undefined;
  private readonly partition: string;
  private readonly clock: () => Date;
  private readonly cache = new Map<string, Promise<TemporaryCredentials>>();

  constructor(options: {
    sts: () => STSClient;
    roleName: string;
    ownAccount?: string;
    partition?: string;
    clock?: () => Date;
  }) {
    this.sts = options.sts;
    this.roleName = options.roleName;
    this.ownAccount = options.ownAccount;
    this.partition = options.partition ?? 'aws';
    this.clock = options.clock ?? (() => new Date());
  }

  /** A credentials provider for the target's account, or undefined when the bot's own role applies. */
  forTarget(target: AwsTarget): (() => Promise<TemporaryCredentials>) | undefined {
    const account = target.account;
    if (!/^\d{12}$/.test(account) || account === this.ownAccount) return undefined;
    return () => this.get(account);
  }

  private get(account: string): Promise<TemporaryCredentials> {
    const cached = this.cache.get(account);
    if (cached) {
      return cached.then((c) =>
        c.expiration.getTime() - this.clock().getTime() > RENEW_BEFORE_MS ? c : this.renew(account),
      );
    }
    return this.renew(account);
  }

  private renew(account: string): Promise<TemporaryCredentials> {
    const pending = this.assume(account);
    this.cache.set(account, pending);
    // A failed assume is not cached: the next call tries again.
    pending.catch(() => {
      if (this.cache.get(account) === pending) this.cache.delete(account);
    });
    return pending;
  }

  private async assume(account: string): Promise<TemporaryCredentials> {
    const roleArn = `arn:${this.partition}:iam::${account}:role/${this.roleName}`;
    const { AssumeRoleCommand } = stsSdk();
    let out: AssumeRoleCommandOutput;
    try {
      out = await this.sts().send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'sg-warden' }));
    } catch (error) {
      const e = error as { name?: string; message?: string };
      const why = `AssumeRole ${roleArn} failed: ${e.name ?? 'Unknown'}${e.message ? `: ${e.message}` : ''}`;
      const meta = callMetadata(error);
      const status = meta.httpStatus;
      // STS answered no (the role is missing or does not trust the bot): sg-warden cannot act there.
      // A throttle, a 5xx or a network failure may pass: thrown as a plain AWS failure, to be retried.
      if (typeof status === 'number' && status >= 400 && status < 500 && !/Throttl/i.test(e.name ?? '')) {
        throw new AccountAccessError(account, why, { awsCode: e.name ?? 'Unknown', cause: error });
      }
      throw new AwsCallError(why, { awsCode: e.name ?? 'Unknown', ...meta, cause: error });
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
      throw new AccountAccessError(account, `AssumeRole ${roleArn} returned no credentials`, {
        awsCode: 'NoCredentials',
      });
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration ?? new Date(this.clock().getTime() + 15 * 60_000),
    };
  }
}
