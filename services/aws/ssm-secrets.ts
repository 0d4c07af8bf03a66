import type { SSMClient } from '@aws-sdk/client-ssm';
import { ConfigError } from '../shared/errors';
import { ssmSdk } from './sdk';

export interface SlackSecrets {
  botToken: string;
  signingSecret: string;
}

/** Reads Slack's bot token and signing secret from SSM Parameter Store (SecureString), once per container. */
export class SsmSecretSource {
  private cached: Promise<SlackSecrets> | undefined;
  private readonly client: () => SSMClient;
  private readonly names: { botToken: string; signingSecret: string };

  constructor(options: {
    client: () => SSMClient;
    botTokenParameter: string;
    signingSecretParameter: string;
  }) {
    this.client = options.client;
    this.names = { botToken: options.botTokenParameter, signingSecret: options.signingSecretParameter };
  }

  get(): Promise<SlackSecrets> {
    if (!this.cached) {
      this.cached = this.load().catch((error) => {
        this.cached = undefined;
        throw error;
      });
    }
    return this.cached;
  }

  private async load(): Promise<SlackSecrets> {
    const { GetParametersCommand } = ssmSdk();
    const out = await this.client().send(
      new GetParametersCommand({
        Names: [this.names.botToken, this.names.signingSecret],
        WithDecryption: true,
      }),
    );
    const value = (name: string) => out.Parameters?.find((p) => p.Name === name)?.Value;
    const botToken = value(this.names.botToken);
    const signingSecret = value(this.names.signingSecret);
    if (!botToken || !signingSecret) {
      const missing = [
        botToken ? null : this.names.botToken,
        signingSecret ? null : this.names.signingSecret,
      ].filter(Boolean);
      throw new ConfigError(`SSM Parameter Store has no value for ${missing.join(' and ')}`);
    }
    return { botToken, signingSecret };
  }
}
