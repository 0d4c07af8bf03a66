import { extractRecords, parseRecord } from '../../services/detection/cloudtrail';
import { BadInputError } from '../../services/shared/errors';
import type { SgEvent } from '../../services/shared/model';
import { readText } from './decode';
import { JsonUnitScanner, type UnitSink } from './json-units';

/** extractRecords' depth limit: what sits deeper is not looked at. */
const MAX_DEPTH = 3;

/**
 * Reads every security-group event from a file (or stdin for `-`) of any size and any shape parseCloudTrail
 * reads, plus NDJSON and concatenated JSON, plain or gzip, UTF-8 or UTF-16, holding one record at a time;
 * calls `onEvent` for each, in order. Resolves once the whole input was read and was valid; otherwise
 * rejects with a BadInputError whose sentence says where (record number, byte offset).
 */
export async function readCloudTrailEvents(
  path: string,
  stdin: NodeJS.ReadableStream,
  onEvent: (event: SgEvent) => void,
): Promise<void> {
  let recognised = false;
  const sink: UnitSink = {
    unit(value, { kind, depth }) {
      if (depth > MAX_DEPTH) return;
      let found: ReturnType<typeof extractRecords>;
      if (kind === 'lookup') {
        // One entry at a time through the same code as a whole lookup-events answer (its errors included).
        found = extractRecords({ Events: [value] });
      } else {
        try {
          found = extractRecords(value);
        } catch (error) {
          // The scanner walks arrays and wrappers itself, so the only refusal left is "not a CloudTrail
          // event": another value beside the records, which extractRecords also passes over in an array.
          if (error instanceof BadInputError) return;
          throw error;
        }
      }
      recognised = true;
      for (const { record, regionHint, envelope } of found) {
        const event = parseRecord(record, regionHint, envelope);
        if (event) onEvent(event);
      }
    },
    emptyContainer(depth) {
      if (depth <= MAX_DEPTH) recognised = true;
    },
  };
  const scanner = new JsonUnitScanner(sink);
  await readText(path, stdin, (chunk) => scanner.push(chunk), {
    where: () => scanner.where(),
  });
  scanner.end();
  if (!recognised) {
    throw new BadInputError(
      'The input is JSON but not a CloudTrail event: expected an EventBridge event, a CloudTrail record, an array of records, {"Records": [...]}, newline-delimited records or lookup-events output.',
    );
  }
}
