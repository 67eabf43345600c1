// Attribution figures on a shipped model (figures, not pass/fail):
//   cost      FitAttribution (erase) wall time, UNet passes and peak RSS, reuse vs paper mode; with --workers 1,2 an
//             in-process A/B of the thread counts (interleaved per mode, --rounds times; each fit starts with no pool)
//   validate  estimator validation: Pearson r per α with the shuffled-score control
//   sweep     ρ sweep of per-row CAD-Erase: weights zeroed, held-out J of the concept and of --keep, (with the judge) erase/keep accuracy
//   erase     CAD-Erase and every baseline per concept through EvaluateErasure's protocol
// Run: npx tsx bench/attribution.bench.ts <cost|validate|sweep|erase> [--model shapes-tiny] [--concepts circle,square]
//      [--samples 8] [--timesteps 10] [--steps 25] [--masks 100] [--per-value 10] [--captions 40] [--rho 0.02]
//      [--alphas 0.1,0.05,0.025] (validate) [--rhos 0.01,0.02,0.05,0.1,0.2] (sweep) [--selection per-row|per-matrix|global] (sweep, erase)
//      [--methods cad,random,magnitude,gradient,coar] [--fit '{"anchor":"open"}'] [--erase '{"sign":"both"}'] (sweep, erase, cost (--fit): extra node params;
//      Erase runs its default rounds unless --erase '{"rounds":1}')
//      [--protocol-seed N] (erase: EvaluateErasure's prompts drawn with another seed than the acceptance protocol's)
//      [--workers 1,2] [--rounds 1] (cost: worker threads per fit, via CADFLOW_SAMPLE_WORKERS; unset = FitAttribution's automatic choice)
// `npm run bench` calls the default export (cost on the micro model).
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { initRuntime, tf } from '../nodes/sdk/runtime.ts';
import { CancelledError, type NodeContext, type TableValue } from '../nodes/sdk/index.ts';
import { loadModel, sampleImages } from '../nodes/diffusion/api.ts';
import type { ModelHandle } from '../nodes/diffusion/handle.ts';
import { fitAttributionNode, fitParams } from '../nodes/attribution/nodes/fit-attribution.ts';
import { eraseNode, eraseParams } from '../nodes/attribution/nodes/erase.ts';
import { eraseBaselineNode, baselineParams } from '../nodes/attribution/nodes/erase-baseline.ts';
import { DEFAULT_RHO } from '../nodes/attribution/erase.ts';
import { validateAttributionNode, validateParams } from '../nodes/attribution/nodes/validate-attribution.ts';
import type { AttributionValue } from '../nodes/attribution/attribution.ts';
import { evaluateErasure } from '../nodes/evaluation/erasure-eval.ts';
import { erasureProtocol } from '../nodes/evaluation/protocols/erasure.ts';
import { loadJudge } from '../nodes/evaluation/judge.ts';
import { loadClip } from '../nodes/evaluation/clip.ts';
import { buildObjective, modelConfigOf, type FitPlan } from '../nodes/attribution/plan.ts';
import { evaluateObjective } from '../nodes/attribution/attribution.ts';
import { selectForErase } from '../nodes/attribution/selection.ts';
import { pearson } from '../nodes/attribution/stats.ts';
import { closeSamplePools, samplePool } from '../nodes/diffusion/parallel/sample-pool.ts';
import { threadMemory, workersMemory } from '../nodes/diffusion/parallel/thread-memory.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';

const MODELS = join(import.meta.dirname, '..', 'models');

export function benchCtx(log = false): NodeContext {
  const signal = new AbortController().signal;
  return {
    runId: 'bench', nodeId: 'bench', signal,
    progress: () => {}, preview: () => {}, record: () => {},
    log: (m) => { if (log) console.log(`  · ${m}`); },
    throwIfAborted: () => { if (signal.aborted) throw new CancelledError(); },
    writeArtifact: async (name, bytes, mime) => ({ id: 'bench', name, mime, bytes: bytes.length }),
    dirs: { data: '/tmp', models: MODELS },
  };
}

const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

export async function fit(model: ModelHandle, o: Record<string, unknown>): Promise<{ attr: AttributionValue; ms: number }> {
  const t0 = Date.now();
  const out = await fitAttributionNode.execute(benchCtx(), { model, components: undefined }, fitParams.parse(o));
  return { attr: out.attribution as AttributionValue, ms: Date.now() - t0 };
}

/** The process's resident set now and its peak since the last reset (main thread and worker threads: one process). */
function rssMb(): { now: number; peak: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { now: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}
/** Wasm heaps (MiB) of the main thread and of each of `workers` pool workers, as "main / w1 / w2". */
async function wasmHeaps(model: ModelHandle, workers: number): Promise<string> {
  const heaps = [threadMemory()];
  // The weights the fit sent (same tensors, so the pool sends nothing new).
  if (workers > 1) heaps.push(...await workersMemory(await samplePool(workers), { config: modelConfigOf(model), weights: model.weights() }));
  return heaps.map((h) => h.wasmMb).join(' / ');
}

/** Resets the peak resident set to the current one (Linux: clear_refs 5), so a peak can be measured per fit. */
const resetPeakRss = () => writeFileSync('/proc/self/clear_refs', '5');

export async function cost(model: ModelHandle, o: { concept: string; samples: number; timesteps: number; steps: number; rho: number; workers?: number[]; rounds?: number }) {
  const rows = [];
  const fitted = new Map<string, AttributionValue>();
  const counts = o.workers ?? [undefined];
  for (let round = 0; round < (o.rounds ?? 1); round++) {
    for (const mode of ['reuse', 'paper'] as const) {
      for (const workers of counts) {
        if (workers === undefined) delete process.env.CADFLOW_SAMPLE_WORKERS;
        else process.env.CADFLOW_SAMPLE_WORKERS = String(workers);
        if (o.workers) {
          await closeSamplePools(); // each fit pays for starting its workers, as a first fit in a fresh process does
          resetPeakRss();
        }
        const rssBefore = rssMb().now;
        const load = loadavg()[0]!.toFixed(2);
        const { attr, ms } = await fit(model, { ...o, mode });
        const rss = rssMb();
        const heaps = await wasmHeaps(model, attr.provenance.gradientWorkers as number);
        fitted.set(`${mode}:${workers}`, attr);
        const d = (attr.provenance.objective as Record<string, number>);
        // With preserve λ the objective has two parts (the concept's prompts and the keep prompts), each with its own
        // trajectories, targets and passes: count both.
        const parts = [d, (attr.provenance.objective as { preserve?: Record<string, number> }).preserve].filter((x) => x !== undefined);
        const total = (k: string) => parts.reduce((a, x) => a + (x[k] ?? 0), 0);
        rows.push({
          mode, ...(o.workers ? { round, workers, trajectory_workers: d.trajectoryWorkers, gradient_workers: attr.provenance.gradientWorkers } : {}),
          wall_ms: ms, setup_ms: (attr.provenance.wallMs as { setup: number }).setup,
          trajectory_unet_sample_evals: total('trajectoryUnetSampleEvaluations'), trajectory_unet_calls: total('trajectoryUnetCalls'),
          target_forwards: total('pairs'), gradient_fwd_bwd_samples: total('pairs'), gradient_passes: attr.provenance.gradientPasses,
          J: attr.value, peak_rss_mb: o.workers ? rss.peak : peakRssMb(), wasm_heaps_mb: heaps, ...(o.workers ? { rss_before_mb: rssBefore, load_1min: load } : {}),
        });
      }
    }
  }
  if (o.workers && o.workers.length > 1) {
    // Same attribution whatever the thread count (float rounding of the summed passes aside).
    for (const mode of ['reuse', 'paper']) {
      const ref = fitted.get(`${mode}:${o.workers[0]}`)!;
      for (const w of o.workers.slice(1)) {
        const other = fitted.get(`${mode}:${w}`)!;
        let diff = 0;
        let scale = 0;
        for (const m of ref.set.matrices) {
          const a = ref.scores.get(m.name)!;
          const b = other.scores.get(m.name)!;
          for (let i = 0; i < a.length; i++) { diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(a[i]!)); }
        }
        console.log(`${mode}: ${o.workers[0]} vs ${w} workers: J ${ref.value} vs ${other.value}; max |Δs| / max |s| = ${diff / scale}`);
      }
    }
  }
  // What reuse mode changes: agreement of the two attributions and of the weights CAD-Erase picks from them.
  const [reuse, paper] = [fitted.get(`reuse:${counts[0]}`)!, fitted.get(`paper:${counts[0]}`)!];
  const flat = (a: AttributionValue) => Float32Array.from(a.set.matrices.flatMap((m) => Array.from(a.scores.get(m.name)!)));
  const rule = { rho: o.rho, selection: 'per-row', sign: 'positive', rounding: 'floor' } as const;
  const picked = (a: AttributionValue) => {
    const sel = selectForErase(a.set, a.scores, rule).selected;
    return new Set(a.set.matrices.flatMap((m) => [...sel.get(m.name)!.keys()].filter((i) => sel.get(m.name)![i]).map((i) => `${m.name}:${i}`)));
  };
  const [pr, pp] = [picked(reuse), picked(paper)];
  const shared = [...pr].filter((k) => pp.has(k)).length;
  console.log(`reuse vs paper: Pearson of scores ${pearson(flat(reuse), flat(paper))}; CAD per-row ρ=${o.rho} selections ` +
    `${pr.size} vs ${pp.size} weights, ${shared} shared (Jaccard ${shared / (pr.size + pp.size - shared)})`);
  return rows;
}

async function validate(model: ModelHandle, o: { concept: string; samples: number; timesteps: number; steps: number; masks: number; rho: number; alphas?: number[] }) {
  const { attr } = await fit(model, o);
  const erased = await eraseNode.execute(benchCtx(), { model, attribution: attr }, eraseParams.parse({ rho: o.rho }));
  const t0 = Date.now();
  const out = await validateAttributionNode.execute(benchCtx(), { model, attribution: attr, edit_fraction: erased.fraction as number },
    validateParams.parse({ masks: o.masks, ...(o.alphas ? { alphas: o.alphas } : {}) }));
  (erased.model as ModelHandle).dispose();
  return { rows: (out.table as TableValue).rows, ms: Date.now() - t0 };
}

let judgeAndClipLoaded: Promise<{ judge: Awaited<ReturnType<typeof loadJudge>>; clip: Awaited<ReturnType<typeof loadClip>> } | undefined> | undefined;

/** The judge and shapes-CLIP, loaded once per process (undefined when they are not shipped). */
function judgeAndClip() {
  judgeAndClipLoaded ??= (async () => {
    try {
      return { judge: await loadJudge('shapes-judge', MODELS), clip: await loadClip('shapes-clip', MODELS) };
    } catch (err) {
      console.log(`(no judge/CLIP: ${(err as Error).message})`);
      return undefined;
    }
  })();
  return judgeAndClipLoaded;
}

/** EvaluateErasure's protocol for `concepts` (a reduced size: perValue, captions; DDIM `steps`, CFG 3) on each model. */
export async function evaluate(models: { name: string; handle: ModelHandle }[], concepts: string[], o: { perValue: number; captions: number; steps: number; protocolSeed?: number }) {
  const jc = await judgeAndClip();
  if (!jc) return [];
  return evaluateErasure(models.map((m) => ({
    name: m.name,
    sample: (prompts, seeds) => sampleImages(m.handle, prompts, seeds, { steps: o.steps, cfg: 3, eta: 0, batchSize: 32 }),
  })), concepts.map((c) => erasureProtocol(c, { size: 'full', perValue: o.perValue, captions: o.captions, seed: o.protocolSeed })), { ...jc, chunk: 32, referenceRow: false });
}

async function sweep(model: ModelHandle, o: { concept: string; keepConcept: string; samples: number; timesteps: number; steps: number; perValue: number; captions: number; rhos: number[]; selection: string; fitExtra: Record<string, unknown>; eraseExtra: Record<string, unknown> }) {
  const { attr } = await fit(model, { ...o, ...o.fitExtra });
  // ΔJ on a held-out objective (other seeds) so the sweep does not only measure the fitted inputs, and the same
  // for another concept of the attribute (what the edit should leave alone).
  const plan = attr.provenance.plan as FitPlan;
  const heldOut = await buildObjective(model, { ...plan, seed: 1000 });
  const other = await buildObjective(model, { ...plan, concept: o.keepConcept, seed: 1000 });
  const j0 = evaluateObjective(heldOut, model.weights());
  const k0 = evaluateObjective(other, model.weights());
  const rows = [];
  for (const rho of o.rhos) {
    let out;
    try {
      out = await eraseNode.execute(benchCtx(), { model, attribution: attr }, eraseParams.parse({ rho, selection: o.selection, ...o.eraseExtra }));
    } catch (err) {
      rows.push({ rho, weights_zeroed: 0, note: (err as Error).message.slice(0, 80) });
      continue;
    }
    const edited = out.model as ModelHandle;
    const j = evaluateObjective(heldOut, edited.weights());
    const k = evaluateObjective(other, edited.weights());
    const total = (out.report as TableValue).rows.at(-1)!;
    const ev = await evaluate([{ name: `rho ${rho}`, handle: edited }], [o.concept], o);
    rows.push({ rho, weights_zeroed: total.weights_zeroed, fraction: total.fraction, heldout_J_ratio: j / j0, [`${o.keepConcept}_J_ratio`]: k / k0, ...(ev[0] ? { erase_acc: ev[0].erase_acc, keep_acc: ev[0].keep_acc, fd: ev[0].fd } : {}) });
    edited.dispose();
  }
  heldOut.dispose();
  other.dispose();
  return rows;
}

async function eraseAll(model: ModelHandle, o: { concepts: string[]; samples: number; timesteps: number; steps: number; perValue: number; captions: number; rho: number; masks: number; selection: string; methods: string[]; fitExtra: Record<string, unknown>; eraseExtra: Record<string, unknown>; protocolSeed?: number }) {
  if (!await judgeAndClip()) return [];
  // The unedited model's images of a value serve every concept (target for one, keep for the others): one pass.
  let t0 = Date.now();
  const original = await evaluate([{ name: 'original', handle: model }], o.concepts, o);
  console.log(`original model on ${o.concepts.length} concepts: ${Date.now() - t0} ms`);
  type EvalRow = (typeof original)[number];
  const tableRow = (r: EvalRow, method: string, zeroed: number) => ({
    concept: r.concept, method, erase_acc: r.erase_acc, keep_acc: r.keep_acc, clip: r.clip_score, fd: r.fd, images: r.images, weights_zeroed: zeroed,
  });
  const all = original.map((r) => tableRow(r, 'original', 0));
  // Every concept's edits first; an edit that comes out the same for several concepts (same handle key: random and
  // magnitude at per-row ρ do not depend on the concept) is sampled once over all their protocols.
  const edits = new Map<string, { method: string; handle: ModelHandle; zeroed: number; concepts: string[] }>();
  for (const concept of o.concepts) {
    t0 = Date.now();
    const { attr, ms } = await fit(model, { concept, samples: o.samples, timesteps: o.timesteps, steps: o.steps, ...o.fitExtra });
    // The baselines zero CAD's per-matrix counts (its report), whatever rounds CAD kept.
    const cad = await eraseNode.execute(benchCtx(true), { model, attribution: attr }, eraseParams.parse({ rho: o.rho, selection: o.selection, ...o.eraseExtra }));
    for (const method of o.methods) {
      const out = method === 'cad' ? cad : await eraseBaselineNode.execute(benchCtx(true), { model, attribution: attr, match: cad.report }, baselineParams.parse({ method, coar_masks: o.masks }));
      const handle = out.model as ModelHandle;
      const seen = edits.get(handle.key);
      if (seen) {
        seen.concepts.push(concept);
        handle.dispose();
      } else edits.set(handle.key, { method, handle, zeroed: Number((out.report as TableValue).rows.at(-1)!.weights_zeroed), concepts: [concept] });
    }
    if (!o.methods.includes('cad')) (cad.model as ModelHandle).dispose();
    console.log(`${concept}: fit ${ms} ms, fit and edits ${Date.now() - t0} ms`);
  }
  for (const e of edits.values()) {
    t0 = Date.now();
    const rows = (await evaluate([{ name: e.method, handle: e.handle }], e.concepts, o)).map((r) => tableRow(r, e.method, e.zeroed));
    console.log(`${e.method} (edit of ${e.concepts.join(', ')}) evaluated in ${Date.now() - t0} ms`);
    console.table(rows);
    all.push(...rows);
    e.handle.dispose();
  }
  const order = (m: string) => ['original', ...o.methods].indexOf(m);
  return all.sort((a, b) => o.concepts.indexOf(a.concept) - o.concepts.indexOf(b.concept) || order(a.method) - order(b.method));
}

export default async function bench(): Promise<void> {
  await initRuntime();
  const model = await loadModel('shapes-micro', MODELS);
  console.table(await cost(model, { concept: 'circle', samples: 8, timesteps: 10, steps: 25, rho: 0.05 }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      model: { type: 'string', default: 'shapes-tiny' }, concepts: { type: 'string', default: 'circle' },
      samples: { type: 'string', default: '8' }, timesteps: { type: 'string', default: '10' }, steps: { type: 'string', default: '25' },
      masks: { type: 'string', default: '100' }, 'per-value': { type: 'string', default: '10' }, captions: { type: 'string', default: '40' },
      rho: { type: 'string', default: String(DEFAULT_RHO) }, keep: { type: 'string', default: 'square' }, alphas: { type: 'string' }, rhos: { type: 'string', default: '0.01,0.02,0.05,0.1,0.2' },
      selection: { type: 'string', default: 'per-row' }, methods: { type: 'string', default: 'cad,random,magnitude,gradient,coar' },
      fit: { type: 'string', default: '{}' }, erase: { type: 'string', default: '{}' },
      workers: { type: 'string' }, rounds: { type: 'string', default: '1' }, 'protocol-seed': { type: 'string' },
    },
  });
  const backend = await initRuntime();
  const model = await loadModel(values.model!, MODELS);
  const num = (k: keyof typeof values) => Number(values[k]);
  const base = { concept: values.concepts!.split(',')[0]!, samples: num('samples'), timesteps: num('timesteps'), steps: num('steps') };
  console.log(`model ${values.model} (${model.weightsHash.slice(0, 12)}), backend ${backend.backend}, ${JSON.stringify(values)}`);
  const cmd = positionals[0] ?? 'cost';
  const t0 = Date.now();
  if (cmd === 'cost') console.table(await cost(model, { ...base, ...JSON.parse(values.fit!), rho: num('rho'), workers: values.workers?.split(',').map(Number), rounds: num('rounds') }));
  else if (cmd === 'validate') {
    const r = await validate(model, { ...base, masks: num('masks'), rho: num('rho'), alphas: values.alphas?.split(',').map(Number) });
    console.table(r.rows);
    console.log(`validation wall ms: ${r.ms}`);
  } else if (cmd === 'sweep') console.table(await sweep(model, { ...base, keepConcept: values.keep!, perValue: num('per-value'), captions: num('captions'), rhos: values.rhos!.split(',').map(Number), selection: values.selection!, fitExtra: JSON.parse(values.fit!), eraseExtra: JSON.parse(values.erase!) }));
  else if (cmd === 'erase') {
    console.table(await eraseAll(model, {
      concepts: values.concepts!.split(','), samples: base.samples, timesteps: base.timesteps, steps: base.steps,
      perValue: num('per-value'), captions: num('captions'), rho: num('rho'), masks: num('masks'), selection: values.selection!,
      methods: values.methods!.split(','), fitExtra: JSON.parse(values.fit!), eraseExtra: JSON.parse(values.erase!),
      protocolSeed: values['protocol-seed'] === undefined ? undefined : num('protocol-seed'),
    }));
  } else throw new Error(`unknown command ${cmd}`);
  console.log(`done in ${Date.now() - t0} ms; peak RSS ${peakRssMb()} MB; tensors ${tf.memory().numTensors}`);
}
