// erase-concept end to end, phase by phase: runs `cadflow run workflows/erase-concept.json` (a fresh data folder, so
// nothing is cached) and prints each node's wall time from run.json, Erase's refit and check seconds per round and
// EvaluateErasure's generation / judging / CLIP / scores seconds from their log lines, the figures the run produced
// with their standard errors, and the load average beside them (the machine may be shared: compare runs made back to
// back). With `agreement` it also measures how often the judge reads a check sample drawn with fewer DDIM steps as it
// reads the same prompt and seed drawn with 25 (the unedited model and a one-round CAD edit of the concept).
// Run only this: `npm run bench -- erase-concept`. Env: CADFLOW_ERASE_BENCH = profile (default), agreement or both;
// CADFLOW_ERASE_BENCH_SET = space-separated node.param=value overrides (e.g. "evaluate.size=full erase.check_steps=25");
// CADFLOW_ERASE_BENCH_STEPS = the fewer steps compared in `agreement` (default 10); CADFLOW_ERASE_BENCH_WORKFLOW.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchFigure } from './run.ts';
import { benchCtx } from './attribution.bench.ts';
import { initRuntime } from '../nodes/sdk/runtime.ts';
import { loadModel, sampleImages } from '../nodes/diffusion/api.ts';
import type { ModelHandle } from '../nodes/diffusion/handle.ts';
import { judgeImages, loadJudge } from '../nodes/evaluation/judge.ts';
import { fitAttributionNode, fitParams, planOf } from '../nodes/attribution/nodes/fit-attribution.ts';
import { eraseNode, eraseParams } from '../nodes/attribution/nodes/erase.ts';
import { CAPTIONS_TEMPLATE, keepPrompts, planPrompts, type FitPlan } from '../nodes/attribution/plan.ts';
import { attributeOf, type SceneLabels } from '../nodes/world/concepts.ts';

const ROOT = join(import.meta.dirname, '..');
const MODELS = join(ROOT, 'models');
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

interface Profile { figures: BenchFigure[]; wall: number }

/** One `cadflow run` of the workflow with `sets`, phase by phase. */
export async function profileWorkflow(workflow: string, sets: string[]): Promise<Profile> {
  const dir = mkdtempSync(join(tmpdir(), 'cadflow-erase-bench-'));
  try {
    const args = [join(ROOT, 'bin', 'cadflow.js'), 'run', workflow, '--data', join(dir, 'data'), '--out', join(dir, 'out'), ...sets.flatMap((s) => ['--set', s])];
    const loadBefore = load();
    const t0 = performance.now();
    const { stderr } = await promisify(execFile)(process.execPath, args, { cwd: ROOT, maxBuffer: 64 << 20 });
    const wall = (performance.now() - t0) / 1000;
    console.log(`  load average before ${loadBefore}, after ${load()}; ${sets.length ? `--set ${sets.join(' ')}` : 'as shipped'}`);
    const record = JSON.parse(readFileSync(join(dir, 'out', 'run.json'), 'utf8')) as { nodes: Record<string, { ms: number; outputs: Record<string, unknown> }> };
    const figures: BenchFigure[] = [{ name: 'end to end (cadflow run)', value: wall, unit: 's', target: { op: '<', value: 180 } }];
    for (const [id, n] of Object.entries(record.nodes)) figures.push({ name: `node ${id}`, value: n.ms / 1000, unit: 's' });
    const lines = stderr.split('\n');
    const keep = lines.find((l) => /keep check: the unedited model/.test(l));
    if (keep) figures.push({ name: 'erase: keep check of the unedited model', value: Number(/\(([\d.]+) s\)$/.exec(keep)?.[1]), unit: 's' });
    for (const l of lines) {
      const m = /round (\d+)\/\d+: .*; refit ([\d.]+) s, check ([\d.]+) s/.exec(l);
      if (!m) continue;
      if (Number(m[2]) > 0) figures.push({ name: `erase: round ${m[1]} refit`, value: Number(m[2]), unit: 's' });
      figures.push({ name: `erase: round ${m[1]} check (stop + keep)`, value: Number(m[3]), unit: 's' });
      console.log(`  ${l.trim()}`);
    }
    const ev = lines.find((l) => /EvaluateErasure .*generation/.test(l));
    if (ev) {
      for (const [, phase, s] of ev.matchAll(/(generation|judging|CLIP|scores) ([\d.]+) s/g)) figures.push({ name: `evaluate: ${phase}`, value: Number(s), unit: 's' });
      console.log(`  ${ev.trim()}`);
    }
    const table = record.nodes.evaluate?.outputs?.table as { rows?: Record<string, unknown>[] } | undefined;
    // The judged counts behind erase_acc and keep_acc, from EvaluateErasure's log line.
    const [, nTarget, nKeep] = /(\d+) target, (\d+) keep/.exec(ev ?? '')?.map(Number) ?? [];
    const pm = (v: unknown, n: number | undefined) => (typeof v === 'number' && n ? `${v.toFixed(3)} ± ${standardError(v, n).toFixed(3)}` : fmt(v));
    for (const r of table?.rows ?? []) {
      console.log(`  ${String(r.model).slice(0, 70).padEnd(70)} erase_acc ${pm(r.erase_acc, nTarget)}  keep_acc ${pm(r.keep_acc, nKeep)}  CLIP ${fmt(r.clip_score)}  FD ${fmt(r.fd)}`);
    }
    console.log('  (± one binomial standard error of the judged prompts)');
    return { figures, wall };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (v: unknown) => (typeof v === 'number' ? v.toFixed(3) : String(v));

/** One binomial standard error of a share p of n samples (p(1 − p) floored at 1/n, so shares of 0 and 1 get one too). */
export const standardError = (p: number, n: number) => Math.sqrt(Math.max(p * (1 - p), 1 / n) / n);

/**
 * How often the judge reads a `steps`-step check sample as it reads the 25-step sample of the same prompt and seed,
 * over the concept's check prompts and the keep prompts, on `model`.
 */
async function agreement(model: ModelHandle, plan: FitPlan, judge: Awaited<ReturnType<typeof loadJudge>>, steps: number, label: string): Promise<BenchFigure[]> {
  const attribute = attributeOf(plan.concept)!;
  const c = planPrompts({ ...plan, seed: plan.seed + 0x51ed });
  const k = keepPrompts({ ...plan, seed: plan.seed + 0x51ed });
  const prompts = [...c.prompts, ...k.prompts];
  const seeds = [...c.seeds, ...k.seeds];
  const expected = [...c.prompts.map(() => plan.concept), ...k.labels.map((l) => l[attribute as keyof SceneLabels])];
  const read = async (s: number) => {
    const t0 = performance.now();
    const images = await sampleImages(model, prompts, seeds, { steps: s, cfg: plan.cfg, eta: plan.eta });
    const ms = performance.now() - t0;
    try {
      return { labels: (await judgeImages(judge, images)).labels.map((l) => l[attribute]), ms };
    } finally {
      images.dispose();
    }
  };
  const full = await read(25);
  const few = await read(steps);
  const n = c.prompts.length;
  const same = (from: number, to: number) => full.labels.slice(from, to).filter((l, i) => l === few.labels[from + i]).length / (to - from);
  const share = (r: { labels: string[] }, from: number, to: number) => r.labels.slice(from, to).filter((l, i) => l === expected[from + i]).length / (to - from);
  console.log(`  ${label}: concept share ${share(full, 0, n).toFixed(3)} (25 steps) vs ${share(few, 0, n).toFixed(3)} (${steps}); ` +
    `others right ${share(full, n, prompts.length).toFixed(3)} vs ${share(few, n, prompts.length).toFixed(3)}; load ${load()}`);
  return [
    { name: `${label}: judge agrees, ${steps} vs 25 steps, concept`, value: same(0, n), unit: 'share' },
    { name: `${label}: judge agrees, ${steps} vs 25 steps, others`, value: same(n, prompts.length), unit: 'share' },
    { name: `${label}: ${prompts.length} check samples at 25 steps`, value: full.ms / 1000, unit: 's' },
    { name: `${label}: ${prompts.length} check samples at ${steps} steps`, value: few.ms / 1000, unit: 's' },
  ];
}

async function agreementFigures(steps: number): Promise<BenchFigure[]> {
  await initRuntime();
  const model = await loadModel('shapes-tiny', MODELS);
  const judge = await loadJudge('shapes-judge', MODELS);
  const fitted = await fitAttributionNode.execute(benchCtx(), { model, components: undefined }, fitParams.parse({ concept: 'circle' }));
  const attr = fitted.attribution as { provenance: { plan: FitPlan } };
  // The checks' prompts: every caption template, 64 of the concept and 64 of the other values.
  const plan: FitPlan = { ...planOf(fitParams.parse({ concept: 'circle' })), template: CAPTIONS_TEMPLATE, prompts: [], samples: 64 };
  const figures = await agreement(model, plan, judge, steps, 'unedited');
  const edited = await eraseNode.execute(benchCtx(), { model, attribution: attr }, eraseParams.parse({ rho: 0.04, rounds: 1 }));
  try {
    figures.push(...await agreement(edited.model as ModelHandle, plan, judge, steps, 'CAD ρ 0.04, one round'));
  } finally {
    (edited.model as ModelHandle).dispose();
  }
  return figures;
}

export default async function eraseConceptBench(): Promise<BenchFigure[]> {
  const what = process.env.CADFLOW_ERASE_BENCH ?? 'profile';
  const figures: BenchFigure[] = [];
  if (what === 'agreement' || what === 'both') figures.push(...await agreementFigures(Number(process.env.CADFLOW_ERASE_BENCH_STEPS ?? 10)));
  if (what === 'profile' || what === 'both') {
    const workflow = process.env.CADFLOW_ERASE_BENCH_WORKFLOW ?? join(ROOT, 'workflows', 'erase-concept.json');
    const sets = (process.env.CADFLOW_ERASE_BENCH_SET ?? '').split(/\s+/).filter(Boolean);
    figures.push(...(await profileWorkflow(workflow, sets)).figures);
  }
  return figures;
}
