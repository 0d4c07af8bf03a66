import type { Config } from '../config/config';

/** One IAM policy statement (CloudFormation-ready: `${AWS::Partition}` / `${AWS::AccountId}` for !Sub). */
export interface IamStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[] | string;
  Condition?: Record<string, Record<string, string>>;
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders, on purpose
const PARTITION = '${AWS::Partition}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders, on purpose
const ACCOUNT = '${AWS::AccountId}';

function documentArn(region: string, document: string): string {
  // AWS-owned documents (AWS-RunShellScript, …) have no account in their ARN.
  const owner = /^(AWS|Amazon)/.test(document) ? '' : ACCOUNT;
  return `arn:${PARTITION}:ssm:${region}:${owner}:document/${document}`;
}

function sid(text: string): string {
  return text.replace(/[^A-Za-z0-9]/g, '');
}

/**
 * The least-privilege IAM statements `/sg-run` needs, from the config: the worker may send only the
 * configured documents, and only to instances its runbooks' targets allow (instance ARNs, or any
 * instance whose tags match an alias, via `ssm:resourceTag/<key>` conditions); it may describe
 * instances and SSM's view of them. The sweeper only reads results (GetCommandInvocation).
 */
export function runCommandIamStatements(config: Config): { worker: IamStatement[]; sweeper: IamStatement[] } {
  const specs = Object.values(config.runbooks.items).map((r) => ({
    region: r.region,
    document: r.document,
    targets: r.targets,
  }));
  const adHoc = config.runbooks.adHoc;
  if (config.runbooks.allowAdHoc && adHoc)
    specs.push({ region: adHoc.region, document: adHoc.document, targets: adHoc.targets });
  if (specs.length === 0) return { worker: [], sweeper: [] };

  const documents = [...new Set(specs.map((s) => documentArn(s.region, s.document)))].sort();
  const instanceArns = [
    ...new Set(
      specs.flatMap((s) =>
        s.targets
          .filter((t) => INSTANCE_ID.test(t))
          .map((t) => `arn:${PARTITION}:ec2:${s.region}:${ACCOUNT}:instance/${t}`),
      ),
    ),
  ].sort();
  const aliases = [...new Set(specs.flatMap((s) => s.targets.filter((t) => !INSTANCE_ID.test(t))))].sort();

  const worker: IamStatement[] = [
    { Sid: 'RunCommandDocuments', Effect: 'Allow', Action: ['ssm:SendCommand'], Resource: documents },
  ];
  if (instanceArns.length > 0)
    worker.push({
      Sid: 'RunCommandInstances',
      Effect: 'Allow',
      Action: ['ssm:SendCommand'],
      Resource: instanceArns,
    });
  for (const alias of aliases) {
    const selector = config.runbooks.targets[alias];
    if (!selector) continue;
    worker.push({
      Sid: `RunCommandTagged${sid(alias)}`,
      Effect: 'Allow',
      Action: ['ssm:SendCommand'],
      Resource: [`arn:${PARTITION}:ec2:${selector.region}:${ACCOUNT}:instance/*`],
      Condition: {
        StringEquals: Object.fromEntries(
          Object.entries(selector.tags).map(([k, v]) => [`ssm:resourceTag/${k}`, v]),
        ),
      },
    });
  }
  // Describe calls support no resource-level permissions.
  worker.push({
    Sid: 'RunCommandTargets',
    Effect: 'Allow',
    Action: ['ec2:DescribeInstances', 'ssm:DescribeInstanceInformation'],
    Resource: '*',
  });
  const sweeper: IamStatement[] = [
    { Sid: 'RunCommandResults', Effect: 'Allow', Action: ['ssm:GetCommandInvocation'], Resource: '*' },
  ];
  return { worker, sweeper };
}
