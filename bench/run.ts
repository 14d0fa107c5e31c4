/**
 * `pnpm bench [--quick] [scenario…]`: every scenario (or the named ones), one after the other, each
 * in its own process so one's heap, sockets and servers never weigh on the next. Each prints its
 * tables and one JSON line per figure; at the end, every figure with a target is listed as met or
 * missed. The exit code says whether every scenario ran, not whether targets were met: these are
 * benchmarks, not tests.
 * `--quick` (about two minutes on two cores) uses short rounds and a 10⁵-row ledger; `BENCH_PROFILE=cpu`
 * or `heap` profiles every gateway child into bench/.profiles.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

const SCENARIOS = [
  'pass-through',
  'wrk-throughput',
  'enrichment-path',
  'dialects',
  'ledger-scale',
  'memory',
  'memory-streams',
  'gzip-event-loop',
  'lingering-close',
  'streaming',
  'peers',
  'storm',
  'workers',
];
/** Not one of the issue's scenarios: `pnpm start`'s own start-up time, in full runs only. */
const EXTRAS = ['cold-start'];

interface Figure {
  scenario: string;
  metric: string;
  value: number;
  target: string | null;
  met: boolean | null;
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const named = args.filter((a) => !a.startsWith('--'));
const unknown = named.filter((name) => !SCENARIOS.includes(name) && !EXTRAS.includes(name));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; one of ${[...SCENARIOS, ...EXTRAS].join(', ')}`);
  process.exit(2);
}
const chosen = named.length > 0 ? named : quick ? SCENARIOS : [...SCENARIOS, ...EXTRAS];

/** Run one scenario, echoing its output and collecting its JSON figures; resolves with its exit code. */
function runScenario(name: string, figures: Figure[]): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, `${name}.ts`), ...(quick ? ['--quick'] : [])],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  createInterface({ input: child.stdout }).on('line', (line) => {
    console.log(line);
    if (!line.startsWith('{"scenario"')) return;
    try {
      figures.push(JSON.parse(line) as Figure);
    } catch {
      // A line that only looks like a figure; it was printed, nothing to collect.
    }
  });
  return new Promise((resolve) => child.once('close', (code) => resolve(code ?? 1)));
}

const started = performance.now();
console.log(
  `# bench ${quick ? '--quick ' : ''}${new Date().toISOString()}: ${os.availableParallelism()} cores, ` +
    `Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
);
const figures: Figure[] = [];
const failed: string[] = [];
for (const name of chosen) {
  console.log(`\n## ${name}\n`);
  const scenarioStarted = performance.now();
  const code = await runScenario(name, figures);
  console.log(`(${name}: ${((performance.now() - scenarioStarted) / 1000).toFixed(0)} s)`);
  if (code !== 0) failed.push(name);
}

const withTargets = figures.filter((f) => f.target !== null);
console.log(`\n## targets\n`);
console.log('| scenario | figure | value | target | met |');
console.log('|---|---|---|---|---|');
for (const f of withTargets) {
  console.log(`| ${f.scenario} | ${f.metric} | ${f.value} | ${f.target} | ${f.met ? 'yes' : '**no**'} |`);
}
const missed = withTargets.filter((f) => f.met === false).length;
console.log(
  `\n${withTargets.length - missed} of ${withTargets.length} targets met; ` +
    `${((performance.now() - started) / 1000).toFixed(0)} s in all` +
    (failed.length > 0 ? `; scenarios that failed to run: ${failed.join(', ')}` : ''),
);
process.exit(failed.length > 0 ? 1 : 0);
