import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FigureContext } from '../lib/context';
import type { FigureResult, GoalResult } from '../lib/report';
import { count, round } from '../lib/stats';

const MIB = 1024 * 1024;
const RSS_GOAL_MB = 400;
/** One record in this many is a world-open SSH authorize (a violation), one a private one (clean). */
const SG_EVERY = 100;
const TIME = '/usr/bin/time';

/** A record of another service, as most of a trail's records are (about 1.2 KB). */
function otherRecord(n: number): string {
  return JSON.stringify({
    eventVersion: '1.09',
    userIdentity: {
      type: 'AssumedRole',
      principalId: 'AROAEXAMPLE:app',
      arn: 'arn:aws:sts::123456789012:assumed-role/app/i-0123456789abcdef0',
      accountId: '123456789012',
      sessionContext: { attributes: { creationDate: '2026-12-01T10:00:00Z', mfaAuthenticated: 'false' } },
    },
    eventTime: '2026-12-01T10:00:00Z',
    eventSource: 's3.amazonaws.com',
    eventName: 'GetObject',
    awsRegion: 'eu-west-1',
    sourceIPAddress: '10.0.12.34',
    userAgent: '[aws-sdk-js/3.600.0 ua/2.1 os/linux#6.1 lang/js md/nodejs#20.19.0 api/s3#3.600.0]',
    requestParameters: { bucketName: 'app-assets-123456789012', key: `uploads/2026/12/01/object-${n}.json` },
    responseElements: null,
    additionalEventData: {
      bytesTransferredIn: 0,
      bytesTransferredOut: 18234,
      'x-amz-id-2': 'EXAMPLE+ID/abc=',
    },
    requestID: `REQ${n}`,
    eventID: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    readOnly: true,
    resources: [
      { type: 'AWS::S3::Object', ARN: `arn:aws:s3:::app-assets-123456789012/uploads/object-${n}.json` },
    ],
    eventType: 'AwsApiCall',
    managementEvent: false,
    recipientAccountId: '123456789012',
    eventCategory: 'Data',
    tlsDetails: {
      tlsVersion: 'TLSv1.3',
      cipherSuite: 'TLS_AES_128_GCM_SHA256',
      clientProvidedHostHeader: 's3.eu-west-1.amazonaws.com',
    },
  });
}

/** An AuthorizeSecurityGroupIngress record: SSH from `cidr`. */
function authorizeRecord(n: number, cidr: string): string {
  return JSON.stringify({
    eventVersion: '1.09',
    userIdentity: {
      type: 'IAMUser',
      principalId: 'AIDAEXAMPLE',
      arn: 'arn:aws:iam::123456789012:user/alice',
      accountId: '123456789012',
      userName: 'alice',
    },
    eventTime: '2026-12-01T10:00:00Z',
    eventSource: 'ec2.amazonaws.com',
    eventName: 'AuthorizeSecurityGroupIngress',
    awsRegion: 'eu-west-1',
    sourceIPAddress: '198.51.100.7',
    userAgent: 'aws-cli/2.15.0',
    requestParameters: {
      groupId: 'sg-0123456789abcdef0',
      ipPermissions: {
        items: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: cidr }] } }],
      },
    },
    responseElements: {
      _return: true,
      securityGroupRuleSet: {
        items: [
          {
            groupId: 'sg-0123456789abcdef0',
            securityGroupRuleId: `sgr-${n.toString(16).padStart(17, '0')}`,
            isEgress: false,
            ipProtocol: 'tcp',
            fromPort: 22,
            toPort: 22,
            cidrIpv4: cidr,
          },
        ],
      },
    },
    requestID: `REQ${n}`,
    eventID: `00000000-0000-4000-9000-${String(n).padStart(12, '0')}`,
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: '123456789012',
  });
}

/** Writes a CloudTrail log file (`{"Records": [...]}`) of about `bytes`, streaming; returns what is in it. */
async function writeTrail(
  path: string,
  bytes: number,
): Promise<{ records: number; sgEvents: number; violations: number; bytes: number }> {
  const out = createWriteStream(path, { highWaterMark: 4 * MIB });
  const write = async (text: string) => {
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', resolve));
  };
  let written = 0;
  let records = 0;
  let sgEvents = 0;
  let violations = 0;
  await write('{"Records": [\n');
  let batch: string[] = [];
  let batchBytes = 0;
  while (written + batchBytes < bytes) {
    let text: string;
    if (records % SG_EVERY === 0) {
      text = authorizeRecord(records, '0.0.0.0/0');
      sgEvents++;
      violations++;
    } else if (records % SG_EVERY === 1) {
      text = authorizeRecord(records, '10.20.0.0/16');
      sgEvents++;
    } else text = otherRecord(records);
    const item = `${records === 0 ? '' : ',\n'}${text}`;
    batch.push(item);
    batchBytes += item.length;
    records++;
    if (batchBytes >= MIB) {
      await write(batch.join(''));
      written += batchBytes;
      batch = [];
      batchBytes = 0;
    }
  }
  await write(`${batch.join('')}\n]}\n`);
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return { records, sgEvents, violations, bytes: statSync(path).size };
}

interface Run {
  code: number;
  seconds: number;
  peakRssMb: number | null;
  rssFrom: string;
  stdout: string;
  stderr: string;
}

/** Runs `sg-warden evaluate <file>` as a child; peak RSS from /usr/bin/time -v, else from /proc's VmHWM. */
function runEvaluate(root: string, file: string): Promise<Run> {
  const bin = join(root, 'bin', 'sg-warden.js');
  const useTime = existsSync(TIME);
  const [command, args] = useTime
    ? [TIME, ['-v', process.execPath, bin, 'evaluate', file]]
    : [process.execPath, [bin, 'evaluate', file]];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    let hwmKb = 0;
    const sampler = useTime
      ? null
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
          } catch {
            // gone already
          }
        }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      if (sampler) clearInterval(sampler);
      const seconds = (performance.now() - t0) / 1000;
      const stderr = Buffer.concat(err).toString('utf8');
      const timed = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const kb = timed ? Number(timed[1]) : hwmKb;
      resolve({
        code: code ?? -1,
        seconds,
        peakRssMb: kb > 0 ? kb / 1024 : null,
        rssFrom: useTime
          ? '/usr/bin/time -v (maximum resident set size)'
          : '/proc/<pid>/status VmHWM, sampled every 20 ms',
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: useTime ? stderr.split(/\n\tCommand being timed:/)[0]! : stderr,
      });
    });
  });
}

/**
 * Figure 8: `sg-warden evaluate` on a CloudTrail log file of 2 GiB (quick: 64 MiB), generated on the fly
 * into a temporary file and deleted after: wall time, records per second and peak RSS of the real CLI.
 */
export async function run(ctx: FigureContext): Promise<FigureResult> {
  const started = Date.now();
  const target = ctx.quick ? 64 * MIB : 2048 * MIB;
  const dir = mkdtempSync(join(tmpdir(), 'sg-warden-bench-input-'));
  try {
    const file = join(dir, 'trail.json');
    const g0 = performance.now();
    const input = await writeTrail(file, target);
    const generateSeconds = (performance.now() - g0) / 1000;
    const result = await runEvaluate(ctx.root, file);
    let report: { events?: number; violations?: unknown[] } = {};
    try {
      report = JSON.parse(result.stdout) as typeof report;
    } catch {
      // judged below
    }
    const mb = input.bytes / MIB;
    const rss = result.peakRssMb;
    const rows: string[][] = [
      ['input (one {"Records": [...]} file, plain JSON)', `${mb.toFixed(0)} MiB`],
      ['records (1 in 100 a world-open SSH authorize, 1 in 100 a private one)', count(input.records)],
      ['wall time (process start to exit)', `${result.seconds.toFixed(1)} s`],
      ['throughput', `${(mb / result.seconds).toFixed(1)} MiB/s`],
      ['records per second', count(Math.round(input.records / result.seconds))],
      ['peak RSS', rss === null ? 'unknown' : `${rss.toFixed(0)} MB`],
      ['exit code', String(result.code)],
      [
        'events / violations reported (written)',
        `${report.events ?? '?'} / ${report.violations?.length ?? '?'} (${input.sgEvents} / ${input.violations})`,
      ],
    ];
    const goals: GoalResult[] = [
      {
        goal: `peak RSS ≤ ${RSS_GOAL_MB} MB and exit code not 3`,
        met: rss !== null && rss <= RSS_GOAL_MB && result.code !== 3,
        detail: `${rss === null ? 'RSS unknown' : `${rss.toFixed(0)} MB`}, exit ${result.code}${result.code === 1 ? '' : `: ${result.stderr.trim().split('\n').pop()}`}`,
      },
      {
        goal: 'every event and violation in the file reported',
        met: report.events === input.sgEvents && report.violations?.length === input.violations,
        detail: `${report.events ?? '?'} events, ${report.violations?.length ?? '?'} violations`,
      },
    ];
    return {
      figure: 'input',
      title: `8. Big inputs (sg-warden evaluate, ${mb.toFixed(0)} MiB)`,
      columns: ['measure', 'value'],
      rows,
      goals,
      notes: [
        `the real CLI (bin/sg-warden.js, which bundles cli/ first) as a child process; peak RSS from ${result.rssFrom}`,
        `the file is generated streaming into ${tmpdir()} (${generateSeconds.toFixed(1)} s) and deleted after; before streaming, a decoded input over ~512 MiB crashed with "Cannot create a string longer than …"`,
      ],
      data: {
        inputBytes: input.bytes,
        records: input.records,
        sgEvents: input.sgEvents,
        violationsWritten: input.violations,
        seconds: round(result.seconds),
        recordsPerSecond: Math.round(input.records / result.seconds),
        peakRssMb: rss === null ? null : round(rss),
        exitCode: result.code,
        eventsReported: report.events ?? null,
        violationsReported: report.violations?.length ?? null,
      },
      durationMs: Date.now() - started,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
