// `npm run bench`: runs the default export of every bench/*.bench.ts in turn (or only those whose name
// contains one of the arguments: `npm run bench -- engine`). A module prints its own figures, or returns
// a list of figures, which are printed with their ratio to the target. Figures, not pass/fail.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  /** `value` should stay below (`<`) or reach (`>=`) this. */
  target?: { op: '<' | '>='; value: number };
}

const dir = import.meta.dirname;
const filters = process.argv.slice(2);
const modules = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort((a, b) => (a === 'engine.bench.ts' ? -1 : b === 'engine.bench.ts' ? 1 : a.localeCompare(b)))
  .filter((f) => !filters.length || filters.some((x) => f.includes(x)));

function printFigures(figures: BenchFigure[]): void {
  for (const f of figures) {
    const ratio = f.target ? (f.target.op === '<' ? f.target.value / f.value : f.value / f.target.value) : undefined;
    const verdict = ratio === undefined ? '' : `  target ${f.target!.op} ${f.target!.value} ${f.unit}: ${ratio >= 1 ? 'met' : 'MISSED'} (×${ratio.toFixed(2)} of target)`;
    console.log(`  ${f.name.padEnd(48)} ${String(+f.value.toPrecision(4)).padStart(10)} ${f.unit}${verdict}`);
  }
}

let failed = 0;
for (const file of modules) {
  console.log(`\n== ${file}`);
  const t0 = performance.now();
  try {
    const mod = await import(pathToFileURL(join(dir, file)).href);
    if (typeof mod.default !== 'function') throw new Error('no default export function');
    const figures = await mod.default();
    if (Array.isArray(figures)) printFigures(figures as BenchFigure[]);
  } catch (err) {
    failed++;
    console.log(`  ${file} failed: ${err instanceof Error ? err.stack : String(err)}`);
  }
  console.log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
process.exitCode = failed ? 1 : 0;
