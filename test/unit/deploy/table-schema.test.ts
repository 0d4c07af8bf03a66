import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, type ScalarTag } from 'yaml';
import { TABLE_DEFINITION } from '../../../services/aws/dynamodb-store';

/**
 * The table is written twice: in serverless.yml (what CloudFormation creates) and in the adapter's
 * TABLE_DEFINITION (what the emulators, the sandbox and the tests create). This keeps them one schema.
 */

const root = join(__dirname, '..', '..', '..');

/** CloudFormation's short tags (!GetAtt, !Sub …) read as plain values: only the table's keys matter here. */
const cfnTags: ScalarTag[] = ['GetAtt', 'Sub', 'Ref', 'Join', 'If', 'Equals', 'Not', 'Select', 'Split'].map(
  (name) => ({ tag: `!${name}`, resolve: (value: string) => value }),
);

function deployedTable(): Record<string, unknown> {
  const [doc] = parseAllDocuments(readFileSync(join(root, 'serverless.yml'), 'utf8'), {
    customTags: cfnTags,
    logLevel: 'silent',
  });
  if (!doc) throw new Error('serverless.yml is empty');
  const parts = (doc.toJS() as { resources: unknown[] }).resources;
  for (const part of parts) {
    const resources = (part as { Resources?: Record<string, { Type: string; Properties: unknown }> })
      ?.Resources;
    const table = Object.values(resources ?? {}).find((r) => r.Type === 'AWS::DynamoDB::Table');
    if (table) return table.Properties as Record<string, unknown>;
  }
  throw new Error('serverless.yml declares no DynamoDB table');
}

describe('the state table', () => {
  const deployed = deployedTable();

  it('has the same keys, attribute types and billing mode in serverless.yml as in the adapter', () => {
    expect(deployed.KeySchema).toEqual(TABLE_DEFINITION.KeySchema);
    expect(deployed.AttributeDefinitions).toEqual(TABLE_DEFINITION.AttributeDefinitions);
    expect(deployed.BillingMode).toBe(TABLE_DEFINITION.BillingMode);
  });

  it('has the same indexes (names, keys, projection) in serverless.yml as in the adapter', () => {
    expect(deployed.GlobalSecondaryIndexes).toEqual(TABLE_DEFINITION.GlobalSecondaryIndexes);
  });
});
