// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation ${…} placeholders, on purpose
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../services/config/config';
import { configIamResources } from '../../services/deploy/iam';
import { sessionsDocumentName, sessionsPolicies } from '../../services/deploy/sessions';

/**
 * The roles of the packaged template as IAM would see them in the tests' world (test/iam/): their
 * statements, with CloudFormation's intrinsics resolved to the account, region, table, parameter and
 * function names a recorded call ran with.
 */

/**
 * AWS-owned SSM documents have no account in their ARN (`arn:aws:ssm:<region>::document/AWS-…`), which
 * iam-simulate cannot type. The same placeholder account is put in on both sides, the policy's
 * resources and the request's, so names and regions still have to match exactly.
 */
export const withDocumentAccount = (text: string) =>
  text.replace(/(:ssm:[a-z0-9-]*)::document\//g, '$1:aws:document/');

export type Json = Record<string, unknown>;
export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Json;
}
export interface Resource {
  Type: string;
  Properties: Json;
}

export const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** What the template's placeholders stand for in the test world of one call. */
export interface World {
  partition: string;
  region: string;
  account: string;
  tableName: string;
  /** Template value → the test's, for parameter names and the worker's name. */
  renames: [string, string][];
  params?: Record<string, unknown>;
}

export function resolve(value: unknown, world: World, resources: Record<string, Resource>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, world, resources));
  if (!value || typeof value !== 'object') return typeof value === 'string' ? rename(value, world) : value;
  const v = value as Json;
  if ('Fn::Sub' in v) {
    const [text, vars] = Array.isArray(v['Fn::Sub'])
      ? (v['Fn::Sub'] as [string, Json])
      : [v['Fn::Sub'] as string, {}];
    const out = text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      if (name in vars) return String(resolve(vars[name], world, resources));
      return String(
        resolve(name.includes('.') ? { 'Fn::GetAtt': name.split('.') } : { Ref: name }, world, resources),
      );
    });
    return rename(out, world);
  }
  if ('Ref' in v) {
    const name = String(v.Ref);
    if (name === 'AWS::Partition') return world.partition;
    if (name === 'AWS::Region') return world.region;
    if (name === 'AWS::AccountId') return world.account;
    if (world.params && name in world.params) return world.params[name];
    return name;
  }
  if ('Fn::GetAtt' in v) {
    const [id, attribute] = v['Fn::GetAtt'] as [string, string];
    if (id === 'StateTable' && attribute === 'Arn')
      return `arn:${world.partition}:dynamodb:${world.region}:${world.account}:table/${world.tableName}`;
    const resource = resources[id];
    if (resource?.Type === 'AWS::SQS::Queue' && attribute === 'Arn')
      return `arn:${world.partition}:sqs:${world.region}:${world.account}:${String(resource.Properties.QueueName)}`;
    if (resource?.Type === 'AWS::IAM::Role' && attribute === 'Arn')
      return `arn:${world.partition}:iam::${world.account}:role/${String(resolve(resource.Properties.RoleName, world, resources))}`;
    throw new Error(`resolve Fn::GetAtt ${id}.${attribute} in test/iam/iam-simulation.check.ts`);
  }
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return (resolve(parts, world, resources) as unknown[]).join(sep);
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x, world, resources)]));
}

function rename(text: string, world: World): string {
  let out = withDocumentAccount(text);
  for (const [from, to] of world.renames) out = out.split(from).join(to);
  return out;
}

/** The packaged CloudFormation template. */
export const template = (path: string): { Resources: Record<string, Resource>; Outputs?: Json } =>
  JSON.parse(readFileSync(path, 'utf8'));

/** Function name → its role's logical ID and environment, from the packaged template. */
export function functionsOf(t: {
  Resources: Record<string, Resource>;
}): Record<string, { role: string; env: Json }> {
  return Object.fromEntries(
    Object.values(t.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => [
        String(r.Properties.FunctionName).replace(/^sg-warden-[^-]+-/, ''),
        {
          role: (r.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
          env: (r.Properties.Environment as { Variables: Json }).Variables,
        },
      ]),
  );
}

/** The function roles the member-account role trusts: the deploy's output FunctionRoleArns. */
export function functionRoleArns(
  t: { Resources: Record<string, Resource>; Outputs?: Json },
  world: World,
): string[] {
  const output = (t.Outputs?.FunctionRoleArns as { Value: unknown } | undefined)?.Value;
  if (!output) throw new Error('the template has no FunctionRoleArns output for the member role to trust');
  return String(resolve(output, world, t.Resources)).split(',');
}

/** The role's statements: its inline policies and the template's policies that do not come from the config. */
export function staticStatements(t: { Resources: Record<string, Resource> }, roleId: string): Statement[] {
  const role = t.Resources[roleId]!;
  const inline = (
    (role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]) ?? []
  ).flatMap((p) => p.PolicyDocument.Statement);
  const attached = Object.values(t.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && !String(r.Properties.PolicyName).endsWith('-from-config'))
    .filter((r) => (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  return [...inline, ...attached];
}

/** The statements the deploy derives from a config for one role (services/deploy/iam.ts). */
export function configStatements(configText: string | null, roleId: string): Statement[] {
  if (!configText) return [];
  const config = parseConfig(configText, 'recorded config');
  // The packaged template is stage dev: its end-sessions document is the one the tests name.
  const sessions = sessionsPolicies(config, sessionsDocumentName('dev')).Resources;
  return [...Object.values(configIamResources(config).Resources), ...Object.values(sessions)]
    .filter((r) => (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
