import { parseConfig } from '../../../../services/config/config';
import { runCommandIamStatements } from '../../../../services/runs/iam';

// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders
const P = '${AWS::Partition}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders
const A = '${AWS::AccountId}';

const config = (runbooks: string) => parseConfig(`slack:\n  alertChannel: C0TEST\n${runbooks}`, 'f.yml');

describe('runCommandIamStatements', () => {
  it('grants nothing when no runbook is configured', () => {
    expect(runCommandIamStatements(config(''))).toEqual({ worker: [], sweeper: [] });
  });

  it('allows SendCommand only on the configured documents and the targets’ instances, by ARN or tag condition', () => {
    const { worker, sweeper } = runCommandIamStatements(
      config(
        [
          'runbooks:',
          '  targets:',
          '    web-prod: { region: eu-west-1, tags: { Role: web, Env: prod } }',
          '  items:',
          '    restart:',
          '      region: eu-west-1',
          '      targets: [web-prod, i-0123456789abcdef0]',
          '      commands: [uptime]',
          '    patch:',
          '      region: eu-west-1',
          '      document: Acme-Patch',
          '      targets: [web-prod]',
        ].join('\n'),
      ),
    );

    expect(worker).toEqual([
      {
        Sid: 'RunCommandDocuments',
        Effect: 'Allow',
        Action: ['ssm:SendCommand'],
        Resource: [
          `arn:${P}:ssm:eu-west-1:${A}:document/Acme-Patch`,
          `arn:${P}:ssm:eu-west-1::document/AWS-RunShellScript`,
        ],
      },
      {
        Sid: 'RunCommandInstances',
        Effect: 'Allow',
        Action: ['ssm:SendCommand'],
        Resource: [`arn:${P}:ec2:eu-west-1:${A}:instance/i-0123456789abcdef0`],
      },
      {
        Sid: 'RunCommandTaggedwebprod',
        Effect: 'Allow',
        Action: ['ssm:SendCommand'],
        Resource: [`arn:${P}:ec2:eu-west-1:${A}:instance/*`],
        Condition: { StringEquals: { 'ssm:resourceTag/Role': 'web', 'ssm:resourceTag/Env': 'prod' } },
      },
      {
        Sid: 'RunCommandTargets',
        Effect: 'Allow',
        Action: ['ec2:DescribeInstances', 'ssm:DescribeInstanceInformation'],
        Resource: '*',
      },
    ]);
    expect(sweeper).toEqual([
      { Sid: 'RunCommandResults', Effect: 'Allow', Action: ['ssm:GetCommandInvocation'], Resource: '*' },
    ]);
  });
});
