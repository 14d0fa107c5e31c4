/**
 * `pnpm bench [--quick]`: every benchmark, one after the other, each in its own process so one's
 * heap and sockets never weigh on the next. Each prints a table and JSON lines of its figures.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const scenarios = ['enrichment-overhead.ts'];
const passOn = process.argv.slice(2);
let failed = 0;
for (const scenario of scenarios) {
  console.log(`\n## ${scenario}\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, scenario), ...passOn], {
    stdio: 'inherit',
  });
  if (result.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
