import { readFileSync } from 'node:fs';
import { type CollectionTag, parse, type ScalarTag } from 'yaml';

/** CloudFormation's short-form intrinsics (`!Sub`, `!Ref`, `!GetAtt`…) as their long JSON form. */
const INTRINSICS: (ScalarTag | CollectionTag)[] = [
  'Sub',
  'Ref',
  'GetAtt',
  'Join',
  'If',
  'Equals',
  'Not',
  'Select',
  'Split',
  'And',
  'Condition',
].flatMap((name): (ScalarTag | CollectionTag)[] => {
  const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
  const value = (v: unknown) => ({ [key]: name === 'GetAtt' && typeof v === 'string' ? v.split('.') : v });
  return [
    { tag: `!${name}`, resolve: (v: string) => value(v) },
    { tag: `!${name}`, collection: 'seq', resolve: (v: { toJSON(): unknown }) => value(v.toJSON()) },
  ];
});

/** Reads a CloudFormation template written in YAML (infra/*.yml) into its JSON form. */
export function readCfnYaml(path: string): Record<string, unknown> {
  return parse(readFileSync(path, 'utf8'), { customTags: INTRINSICS }) as Record<string, unknown>;
}
