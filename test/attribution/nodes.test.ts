// The attribution nodes on a randomly initialised micro-preset model (handleFromWeights): FitAttribution →
// Erase (CAD and every baseline) → ValidateAttribution, MaskComponents, the artifact round trip, cancellation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import { CancelledError, type NodeContext, type TableValue } from '../../nodes/sdk/index.ts';
import { presetConfig } from '../../nodes/diffusion/model/presets.ts';
import { initWeights } from '../../nodes/diffusion/model/network.ts';
import { handleFromWeights } from '../../nodes/diffusion/api.ts';
import type { ModelHandle } from '../../nodes/diffusion/handle.ts';
import { evaluateObjective, type AttributionValue } from '../../nodes/attribution/attribution.ts';
import { attributeDefaults, buildObjective, CAPTIONS_TEMPLATE, DEFAULT_TEMPLATE, planPrompts, type FitPlan } from '../../nodes/attribution/plan.ts';
import { parseAttribution } from '../../nodes/attribution/summary.ts';
import { fitAttributionNode, fitParams, planOf } from '../../nodes/attribution/nodes/fit-attribution.ts';
import { eraseNode, eraseParams } from '../../nodes/attribution/nodes/erase.ts';
import { baselineParams, eraseBaselineNode } from '../../nodes/attribution/nodes/erase-baseline.ts';
import { esdParams, fineTuneEsdNode } from '../../nodes/attribution/nodes/fine-tune-esd.ts';
import { validateAttributionNode, validateParams } from '../../nodes/attribution/nodes/validate-attribution.ts';
import { maskComponentsNode, maskParams } from '../../nodes/attribution/nodes/mask-components.ts';
import { componentSetFor } from '../../nodes/attribution/nodes/shared.ts';
import { conceptNode, conceptParams } from '../../nodes/world/concept-node.ts';
import { evaluateErasureNode } from '../../nodes/evaluation/nodes/evaluate-erasure.ts';
import { judgedConceptShare, judgedKeepShare } from '../../nodes/attribution/stop-check.ts';
import { iteratedSelection } from '../../nodes/attribution/rounds.ts';
import { selectForErase } from '../../nodes/attribution/selection.ts';
import { loadJudge } from '../../nodes/evaluation/judge.ts';
import { join } from 'node:path';
import { parsePrompt, substitutePrompt } from '../../nodes/world/captions.ts';

let weights: Map<string, tf.Tensor>;
let model: ModelHandle;
const artifacts = new Map<string, Uint8Array>();

function fakeCtx(signal = new AbortController().signal): NodeContext & { progressCalls: number[][]; logs: string[] } {
  const progressCalls: number[][] = [];
  const logs: string[] = [];
  return {
    runId: 'r', nodeId: 'n', signal, progressCalls, logs,
    progress: (v, m) => progressCalls.push([v, m]),
    preview: () => {}, log: (m) => logs.push(m), record: () => {},
    throwIfAborted: () => { if (signal.aborted) throw new CancelledError(); },
    writeArtifact: async (name, bytes, mime) => {
      artifacts.set(name, bytes);
      return { id: 'x', name, mime, bytes: bytes.length };
    },
    dirs: { data: '/tmp', models: '/tmp' },
  };
}

const fitSmall = { concept: 'circle', samples: 2, timesteps: 2, steps: 4, batch: 4 };

beforeAll(async () => {
  await initRuntime();
  weights = initWeights(presetConfig('micro'), 5);
  model = handleFromWeights('micro-random', presetConfig('micro'), weights, 'random-micro');
});
afterAll(() => {
  model.dispose();
  weights.forEach((w) => w.dispose());
});

describe('attribution nodes', () => {
  let attr: AttributionValue;

  it('FitAttribution: progress per gradient pass, artifact with provenance, per-layer table', async () => {
    const ctx = fakeCtx();
    const out = await fitAttributionNode.execute(ctx, { model, components: undefined }, fitParams.parse(fitSmall));
    attr = out.attribution as AttributionValue;
    // One gradient pass for the concept's 2 × 2 pairs (batch 4), one for the keep prompts' (preserve unset → λ = 1).
    expect(ctx.progressCalls.map((c) => c[0])).toEqual([1, 2]);
    expect(ctx.logs).toContain(`per-attribute defaults → template "${DEFAULT_TEMPLATE}", λ = 1 (shape: the other 5 values kept apart (λ = 1), one template, stop at 10 %)`);
    // The default set: FF and the cross-attention value projections of every transformer block.
    expect(attr.set.matrices.every((m) => /(ff\.net\.(0\.proj|2)|attn2\.to_v)\.weight$/.test(m.name))).toBe(true);
    expect(attr.set.matrices.filter((m) => m.name.endsWith('attn2.to_v.weight')).length * 2).toBe(attr.set.matrices.filter((m) => m.name.includes('.ff.')).length);
    expect((out.layers as TableValue).rows).toHaveLength(attr.set.matrices.length);
    const file = [...artifacts].find(([n]) => n.startsWith('attribution-erase-circle'))![1];
    const back = parseAttribution(file);
    expect(back.set.totalComponents).toBe(attr.set.totalComponents);
    expect(Array.from(back.scores.get(attr.set.matrices[0]!.name)!.slice(0, 20))).toEqual(Array.from(attr.scores.get(attr.set.matrices[0]!.name)!.slice(0, 20)));
    expect((back.provenance.plan as { concept: string }).concept).toBe('circle');
    expect(back.provenance.weightsHash).toBe('random-micro');
    const summary = fitAttributionNode.summarize!('attribution', attr) as { top_positive: unknown[]; histogram: { counts: number[] } };
    expect(summary.top_positive).toHaveLength(10);
    expect(summary.histogram.counts.reduce((a, b) => a + b, 0)).toBe(attr.set.totalComponents);
  });

  it('component_set: cadflow (FF + attn2.to_v), paper (FF only) or custom globs; a glob matching nothing names its param', () => {
    const names = (p: Record<string, unknown>) => componentSetFor(model, fitParams.parse(p)).matrices.map((m) => m.name);
    const cadflow = names({});
    const paper = names({ component_set: 'paper' });
    expect(paper.length).toBeGreaterThan(0);
    expect(paper.every((n) => /ff\.net\.(0\.proj|2)\.weight$/.test(n))).toBe(true);
    expect(cadflow.filter((n) => !paper.includes(n)).every((n) => n.endsWith('attn2.to_v.weight'))).toBe(true);
    expect(cadflow.length).toBe(paper.length * 1.5);
    // The globs param applies only to the custom set.
    expect(names({ component_set: 'paper', globs: ['**.attn1.to_q.weight'] })).toEqual(paper);
    expect(names({ component_set: 'custom', globs: ['**.attn1.to_q.weight'] }).every((n) => n.endsWith('attn1.to_q.weight'))).toBe(true);
    expect(() => names({ component_set: 'custom', globs: ['**.nothing'] })).toThrow(expect.objectContaining({ param: 'globs' }));
  });

  it('Concept → FitAttribution and EvaluateErasure: the concept input wins over the param; an empty Concept names its param', async () => {
    const ctx = fakeCtx();
    const { concept } = await conceptNode.execute(ctx, {}, conceptParams.parse({ concept: ' square ' }));
    expect(concept).toBe('square');
    expect(ctx.logs).toContain("'square' is a shape of the shapes world");
    await expect(conceptNode.execute(fakeCtx(), {}, conceptParams.parse({ concept: '  ' }))).rejects.toMatchObject({ param: 'concept' });
    const fitted = (await fitAttributionNode.execute(fakeCtx(), { model, concept }, fitParams.parse({ ...fitSmall, concept: 'circle' }))).attribution as AttributionValue;
    expect((fitted.provenance.plan as FitPlan).concept).toBe('square');
    const evaluated = evaluateErasureNode.execute(fakeCtx(), { models: [], concept: 'zebra' }, evaluateErasureNode.params.parse({ concept: 'circle' }));
    await expect(evaluated).rejects.toMatchObject({ input: 'models' });
    // With models, the protocol is the input's concept's: a concept the world does not know is named as the param's error.
    await expect(evaluateErasureNode.execute(fakeCtx(), { models: [model], concept: 'zebra' }, evaluateErasureNode.params.parse({ concept: 'circle' }))).rejects.toMatchObject({ param: 'concept', message: expect.stringMatching(/zebra/) });
  });

  it('FitAttribution names the param for a concept the world does not know', async () => {
    await expect(fitAttributionNode.execute(fakeCtx(), { model, components: undefined }, fitParams.parse({ ...fitSmall, concept: 'zebra' }))).rejects.toMatchObject({ name: 'NodeParamError', param: 'concept' });
  });

  it('FitAttribution anchor/condition "open": the concept left open in the target (erase) or the conditioning (amplify)', async () => {
    const erase = (await fitAttributionNode.execute(fakeCtx(), { model, components: undefined }, fitParams.parse({ ...fitSmall, anchor: 'open' }))).attribution as AttributionValue;
    const e = erase.provenance.objective as { prompts: string[]; anchors: string[] };
    expect(e.anchors).toHaveLength(e.prompts.length);
    e.prompts.forEach((p, i) => expect(e.anchors[i]).toBe(p.replace('circle', 'shape')));
    const amp = (await fitAttributionNode.execute(fakeCtx(), { model, components: undefined }, fitParams.parse({ ...fitSmall, objective: 'amplify', condition: 'open' }))).attribution as AttributionValue;
    const a = amp.provenance.objective as { prompts: string[] };
    expect(a.prompts.every((p) => p.includes(' shape') && !p.includes('circle'))).toBe(true);
    // balance difference: J = J_concept − λ·J_keep is linear in λ; J_keep's prompts name the other shapes, one gradient pass more.
    const fitWith = async (preserve: number) => (await fitAttributionNode.execute(fakeCtx(), { model, components: undefined }, fitParams.parse({ ...fitSmall, preserve, balance: 'difference' }))).attribution as AttributionValue;
    const withKeep = await fitWith(1);
    const keepPrompts = (withKeep.provenance.objective as { preserve: { prompts: string[] } }).preserve.prompts;
    expect(keepPrompts.length).toBe(fitSmall.samples);
    expect(keepPrompts.every((p) => !p.includes('circle') && /square|triangle|star|cross|heart/.test(p))).toBe(true);
    expect(withKeep.provenance.gradientPasses).toBe(2);
    const [v0, v1, v2] = [(await fitWith(0)).value, withKeep.value, (await fitWith(2)).value];
    expect(Math.abs(v0 - 2 * v1 + v2)).toBeLessThan(1e-3 * Math.abs(v0));
    expect(v1).not.toBeCloseTo(v0, 3);
    await expect(fitAttributionNode.execute(fakeCtx(), { model, components: undefined }, fitParams.parse({ ...fitSmall, anchor: 'open', prompts: ['a red square'] })))
      .rejects.toMatchObject({ name: 'NodeParamError', param: 'prompts' });
  });

  it('FitAttribution anchor "other": the concept replaced by the attribute\'s other values in turn, for the concept\'s and the keep prompts', async () => {
    const fit = (await fitAttributionNode.execute(fakeCtx(), { model, components: undefined }, fitParams.parse({ ...fitSmall, samples: 6, anchor: 'other', preserve: 1 }))).attribution as AttributionValue;
    const e = fit.provenance.objective as { prompts: string[]; anchors: string[]; preserve: { prompts: string[]; anchors: string[] } };
    const shape = (p: string) => parsePrompt(p).shape;
    expect(e.anchors).toHaveLength(6);
    e.prompts.forEach((p, i) => {
      expect(shape(p)).toBe('circle');
      expect(e.anchors[i]).toBe(substitutePrompt(p, 'shape', shape(e.anchors[i]!)!));
    });
    // The five other shapes in turn, never the concept.
    expect(new Set(e.anchors.map(shape))).toEqual(new Set(['square', 'triangle', 'star', 'cross', 'heart']));
    e.preserve.prompts.forEach((p, i) => {
      const own = shape(p);
      const anchor = shape(e.preserve.anchors[i]!);
      expect(anchor).toBeDefined();
      expect([own, 'circle']).not.toContain(anchor);
      expect(e.preserve.anchors[i]).toBe(substitutePrompt(p, 'shape', anchor!));
    });
    const open = (await fitAttributionNode.execute(fakeCtx(), { model, components: undefined }, fitParams.parse({ ...fitSmall, samples: 6, anchor: 'open', preserve: 1 }))).attribution as AttributionValue;
    expect(fit.value).not.toBeCloseTo(open.value, 3);
    await expect(fitAttributionNode.execute(fakeCtx(), { model, components: undefined }, fitParams.parse({ ...fitSmall, anchor: 'other', prompts: ['a red square'] })))
      .rejects.toMatchObject({ name: 'NodeParamError', param: 'prompts' });
  });

  it('FitAttribution is cancellable', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(fitAttributionNode.execute(fakeCtx(ac.signal), { model, components: undefined }, fitParams.parse(fitSmall))).rejects.toBeInstanceOf(CancelledError);
  });

  it('FitAttribution cancelled mid-way (after the first gradient pass) frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    const ctx = fakeCtx(ac.signal);
    ctx.progress = () => ac.abort();
    await expect(fitAttributionNode.execute(ctx, { model, components: undefined }, fitParams.parse({ ...fitSmall, batch: 2 }))).rejects.toBeInstanceOf(CancelledError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Erase: exact per-matrix counts, reversible overlay; EraseBaseline zeroes the same number of weights', async () => {
    const cad = await eraseNode.execute(fakeCtx(), { model, attribution: attr }, eraseParams.parse({ rho: 0.05, rounds: 1 }));
    const report = cad.report as TableValue;
    const total = report.rows[report.rows.length - 1]!;
    const edited = cad.model as ModelHandle;
    expect(edited.overlays).toHaveLength(1);
    let zeros = 0;
    for (const m of attr.set.matrices) {
      const row = report.rows.find((r) => r.layer === m.name)!;
      expect(row.k).toBe(Math.floor(0.05 * m.cols));
      const e = edited.weights().get(m.name)!.dataSync();
      const b = model.weights().get(m.name)!.dataSync();
      let z = 0;
      for (let i = 0; i < e.length; i++) if (e[i] === 0 && b[i] !== 0) z++;
      expect(z).toBe(row.weights_zeroed);
      zeros += z;
    }
    expect(total.weights_zeroed).toBe(zeros);
    expect(cad.fraction).toBeCloseTo(zeros / attr.set.totalWeights, 10);
    const restored = edited.withoutOverlay(edited.overlays[0]!.id);
    const name = attr.set.matrices[0]!.name;
    expect(Buffer.from(restored.weights().get(name)!.dataSync().buffer).equals(Buffer.from(model.base(name).dataSync().buffer))).toBe(true);
    for (const method of ['random', 'magnitude', 'gradient', 'coar'] as const) {
      const out = await eraseBaselineNode.execute(fakeCtx(), { model, attribution: attr, match: report }, baselineParams.parse({ method, coar_masks: 8 }));
      const t = (out.report as TableValue).rows.at(-1)!;
      if (method === 'coar') expect(Math.abs((t.weights_zeroed as number) - zeros)).toBeLessThanOrEqual(attr.set.matrices.reduce((a, m) => Math.max(a, m.cols), 0));
      else expect(t.weights_zeroed).toBe(zeros);
      (out.model as ModelHandle).dispose();
    }
    edited.dispose();
    restored.dispose();
    await expect(eraseNode.execute(fakeCtx(), { model, attribution: attr }, eraseParams.parse({ rho: 0.001 }))).rejects.toMatchObject({ param: 'rho' });
  });

  it('Erase rounds: refits on the edited model, zeroes round 1 plus disjoint later rounds in one removable overlay; baselines match', async () => {
    const before = tf.memory().numTensors;
    const rule = { rho: 0.05, stop_at: 0 };
    const one = await eraseNode.execute(fakeCtx(), { model, attribution: attr }, eraseParams.parse({ ...rule, rounds: 1 }));
    const oneTotal = (one.report as TableValue).rows.at(-1)!;
    const ctx = fakeCtx();
    const two = await eraseNode.execute(ctx, { model, attribution: attr }, eraseParams.parse({ ...rule, rounds: 2 }));
    expect(ctx.progressCalls).toEqual([[1, 2], [2, 2]]);
    const edited = two.model as ModelHandle;
    expect(edited.overlays).toHaveLength(1);
    expect(edited.overlays[0]!.label).toMatch(/× 2 rounds/);
    const total = (two.report as TableValue).rows.at(-1)!;
    // Round 2 ranks only components round 1 left: with no unit short the union is exactly twice one round.
    expect(total.units_short).toBe(0);
    expect(total.weights_zeroed).toBe(2 * (oneTotal.weights_zeroed as number));
    const oneEdited = one.model as ModelHandle;
    let round1Kept = 0;
    for (const m of attr.set.matrices) {
      const first = oneEdited.weights().get(m.name)!.dataSync();
      const both = edited.weights().get(m.name)!.dataSync();
      const base = model.weights().get(m.name)!.dataSync();
      for (let i = 0; i < base.length; i++) if (first[i] === 0 && base[i] !== 0 && both[i] !== 0) round1Kept++;
    }
    expect(round1Kept).toBe(0);
    const restored = edited.withoutOverlay(edited.overlays[0]!.id);
    const name = attr.set.matrices[0]!.name;
    expect(Buffer.from(restored.weights().get(name)!.dataSync().buffer).equals(Buffer.from(model.base(name).dataSync().buffer))).toBe(true);
    // Wired to CAD's report, a baseline zeroes CAD's per-matrix counts over all its rounds.
    const random = await eraseBaselineNode.execute(fakeCtx(), { model, attribution: attr, match: two.report }, baselineParams.parse({ method: 'random' }));
    expect((random.report as TableValue).rows.at(-1)!.weights_zeroed).toBe(total.weights_zeroed);
    const matched = await eraseBaselineNode.execute(fakeCtx(), { model, attribution: attr, match: two.report }, baselineParams.parse({ method: 'magnitude' }));
    const perLayer = (t: unknown) => (t as TableValue).rows.map((r) => [r.layer, r.cad_components, r.weights_zeroed]).slice(0, -1);
    expect(perLayer(matched.report)).toEqual(perLayer(two.report));
    (matched.model as ModelHandle).dispose();
    for (const h of [one.model, edited, restored, random.model] as ModelHandle[]) h.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Erase rounds cancelled after round 1 stops before refitting and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    const ctx = fakeCtx(ac.signal);
    let rounds = 0;
    ctx.progress = () => { rounds++; ac.abort(); };
    await expect(eraseNode.execute(ctx, { model, attribution: attr }, eraseParams.parse({ rho: 0.05, rounds: 3, stop_at: 0 }))).rejects.toBeInstanceOf(CancelledError);
    expect(rounds).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Erase stop_at: the rounds end once the judge sees the concept in at most that share of fresh samples', async () => {
    const judge = join(import.meta.dirname, '..', '..', 'models', 'shapes-judge');
    const judgeModel = await loadJudge(judge); // process-lifetime weights, shared with the node
    const before = tf.memory().numTensors;
    const ctx = fakeCtx();
    // Every share is ≤ 1: the check after round 1 stops the rounds.
    const stopped = await eraseNode.execute(ctx, { model, attribution: attr }, eraseParams.parse({ rho: 0.05, rounds: 3, stop_at: 1, stop_samples: 4, check_steps: 4, check_prompts: 'fit', keep_at: 0, judge }));
    expect(ctx.progressCalls).toEqual([[3, 3]]);
    expect(ctx.logs.some((l) => /round 1\/3: .*% of 4 samples judged 'circle' ≤ 100 %: stop/.test(l))).toBe(true);
    const total = (stopped.report as TableValue).rows.at(-1)!;
    expect(total).toMatchObject({ rounds_run: 1, rounds_kept: 1, refit_s: 0 });
    // Where the time went: round 1 selects from the given attribution (no refit); its check is timed.
    expect(ctx.logs.some((l) => /^round 1\/3: .*; refit 0 s, check [\d.]+ s$/.test(l))).toBe(true);
    expect(total.check_s).toBeGreaterThan(0);
    const one = await eraseNode.execute(fakeCtx(), { model, attribution: attr }, eraseParams.parse({ rho: 0.05, rounds: 1 }));
    expect(total.weights_zeroed).toBe((one.report as TableValue).rows.at(-1)!.weights_zeroed);
    // The share was measured on the edited model: the same check on the one-round edit gives it again.
    const share = await judgedConceptShare(one.model as ModelHandle, attr.provenance.plan as FitPlan, judgeModel, 4);
    expect(total.judged_share).toBe(share);
    // A stop_at below every share but 0: the rounds run to the end unless the check sees no circle at all, and the
    // round with the lowest share is kept (the earliest of equals).
    const ctx2 = fakeCtx();
    const all = await eraseNode.execute(ctx2, { model, attribution: attr }, eraseParams.parse({ rho: 0.05, rounds: 3, stop_at: 1e-9, stop_samples: 4, check_steps: 4, check_prompts: 'fit', keep_at: 0, judge }));
    const total2 = (all.report as TableValue).rows.at(-1)!;
    const shares = ctx2.logs.map((l) => /judged 'circle'/.test(l) ? Number(/([\d.]+) % of 4/.exec(l)![1]) / 100 : undefined).filter((v) => v !== undefined);
    expect(shares).toHaveLength(total2.rounds_run as number);
    expect(ctx2.progressCalls).toHaveLength(total2.rounds_run as number);
    expect(ctx2.progressCalls.at(-1)).toEqual([3, 3]);
    expect(total2.rounds_run).toBe(shares.indexOf(0) >= 0 ? shares.indexOf(0) + 1 : 3);
    expect(total2.rounds_kept).toBe(shares.indexOf(Math.min(...shares)) + 1);
    expect(total2.judged_share).toBe(Math.min(...shares));
    expect(total2.weights_zeroed).toBe((total2.rounds_kept as number) * (total.weights_zeroed as number));
    // The summary lists the rounds (the editor's rounds chart): the judged shares in order, the kept ones first.
    const summary = eraseNode.summarize!('report', all.report) as { rows: unknown[]; rounds: { round: number; judged_share: number; kept: boolean }[] };
    expect(summary.rows).toHaveLength((all.report as TableValue).rows.length);
    expect(summary.rounds.map((r) => r.judged_share)).toEqual(shares);
    expect(summary.rounds.map((r) => r.kept)).toEqual(shares.map((_, i) => i < (total2.rounds_kept as number)));
    expect((eraseNode.summarize!('report', one.report) as { rounds?: unknown }).rounds).toBeUndefined();
    for (const h of [stopped.model, one.model, all.model] as ModelHandle[]) h.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(eraseNode.execute(fakeCtx(), { model, attribution: attr }, eraseParams.parse({ rounds: 2, stop_at: 0.1, judge: '/nonexistent' }))).rejects.toMatchObject({ param: 'judge' });
    // Where the judge cannot tell (a concept outside the world) the check is off, and says so.
    const own = (await fitAttributionNode.execute(fakeCtx(), { model, components: undefined }, fitParams.parse({ ...fitSmall, concept: 'shape', prompts: ['a red shape on a black background'] }))).attribution as AttributionValue;
    const ctx4 = fakeCtx();
    const unjudged = await eraseNode.execute(ctx4, { model, attribution: own }, eraseParams.parse({ rho: 0.05, rounds: 2, judge }));
    expect(ctx4.logs.some((l) => /stop check off: "shape" is not a world concept/.test(l))).toBe(true);
    expect(ctx4.progressCalls).toEqual([[1, 2], [2, 2]]);
    (unjudged.model as ModelHandle).dispose();
  });

  it('Erase check_prompts captions: the stop and keep checks judge the world\'s caption templates, not the fit\'s template', async () => {
    const judge = join(import.meta.dirname, '..', '..', 'models', 'shapes-judge');
    const judgeModel = await loadJudge(judge);
    const before = tf.memory().numTensors;
    const plan = attr.provenance.plan as FitPlan;
    const captionsPlan: FitPlan = { ...plan, prompts: [], template: CAPTIONS_TEMPLATE };
    const drawn = planPrompts({ ...captionsPlan, samples: 8 }).prompts;
    expect(drawn).not.toEqual(planPrompts({ ...plan, samples: 8 }).prompts);
    expect(drawn.every((p) => p.includes('circle'))).toBe(true);
    // More than one caption template: the prompts name different sets of attributes (the world's own parser reads them).
    expect(new Set(drawn.map((p) => Object.keys(parsePrompt(p)).sort().join(','))).size).toBeGreaterThan(1);
    const ctx = fakeCtx();
    // stop_at 1: the check after round 1 stops; keep_at 0.5 logs the unedited keep share of the captions prompts.
    const out = await eraseNode.execute(ctx, { model, attribution: attr }, eraseParams.parse({ rho: 0.05, rounds: 3, stop_at: 1, stop_samples: 4, check_steps: 4, keep_at: 0.5, keep_samples: 8, check_prompts: 'captions', judge }));
    const unedited = await judgedKeepShare(model, captionsPlan, judgeModel, 8);
    expect(ctx.logs.some((l) => l.startsWith(`keep check: the unedited model draws ${(100 * unedited).toFixed(1)} % of 8 other-value samples right; a round that takes it below ${(50 * unedited).toFixed(1)} % is undone (`))).toBe(true);
    const total = (out.report as TableValue).rows.at(-1)!;
    expect(total).toMatchObject({ rounds_run: 1, rounds_kept: 1 });
    const one = await eraseNode.execute(fakeCtx(), { model, attribution: attr }, eraseParams.parse({ rho: 0.05, rounds: 1 }));
    expect(total.judged_share).toBe(await judgedConceptShare(one.model as ModelHandle, captionsPlan, judgeModel, 4));
    expect(total.judged_keep).toBe(await judgedKeepShare(one.model as ModelHandle, captionsPlan, judgeModel, 8));
    for (const h of [out.model, one.model] as ModelHandle[]) h.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Erase recall_at: amplify rounds end once the judge sees the concept in at least that share; else the highest is kept', async () => {
    const judge = join(import.meta.dirname, '..', '..', 'models', 'shapes-judge');
    const judgeModel = await loadJudge(judge);
    const before = tf.memory().numTensors;
    const amp = (await fitAttributionNode.execute(fakeCtx(), { model, components: undefined }, fitParams.parse({ ...fitSmall, objective: 'amplify' }))).attribution as AttributionValue;
    // recall_at 0: every round runs, unchecked.
    const ctx0 = fakeCtx();
    const unchecked = await eraseNode.execute(ctx0, { model, attribution: amp }, eraseParams.parse({ rho: 0.05, rounds: 2, recall_at: 0, judge }));
    expect(ctx0.progressCalls).toEqual([[1, 2], [2, 2]]);
    expect((unchecked.report as TableValue).rows.at(-1)!.rounds_run).toBeUndefined();
    // recall_at 0 < r ≤ any share: round 1 already shows enough of the concept.
    const ctx1 = fakeCtx();
    const stopped = await eraseNode.execute(ctx1, { model, attribution: amp }, eraseParams.parse({ rho: 0.05, rounds: 3, recall_at: 1e-9, stop_samples: 4, check_steps: 4, check_prompts: 'fit', keep_at: 0, judge }));
    const total1 = (stopped.report as TableValue).rows.at(-1)!;
    const one = await eraseNode.execute(fakeCtx(), { model, attribution: amp }, eraseParams.parse({ rho: 0.05, rounds: 1 }));
    const share1 = await judgedConceptShare(one.model as ModelHandle, amp.provenance.plan as FitPlan, judgeModel, 4);
    // The share is measured on the edited model; it stops at round 1 unless the judge sees no circle at all.
    expect(total1.rounds_run).toBe(share1 > 0 ? 1 : 3);
    if (share1 > 0) expect(ctx1.logs.some((l) => /round 1\/3: .*% of 4 samples judged 'circle' ≥ [\d.e-]+ %: stop/.test(l))).toBe(true);
    // recall_at 1: the rounds run until every sample shows the concept, and the round with the highest share is kept.
    const ctx2 = fakeCtx();
    const all = await eraseNode.execute(ctx2, { model, attribution: amp }, eraseParams.parse({ rho: 0.05, rounds: 3, recall_at: 1, stop_samples: 4, check_steps: 4, check_prompts: 'fit', keep_at: 0, judge }));
    const total2 = (all.report as TableValue).rows.at(-1)!;
    const shares = ctx2.logs.map((l) => /judged 'circle'/.test(l) ? Number(/([\d.]+) % of 4/.exec(l)![1]) / 100 : undefined).filter((v) => v !== undefined);
    expect(shares).toHaveLength(total2.rounds_run as number);
    expect(shares[0]).toBe(share1);
    expect(total2.rounds_run).toBe(shares.indexOf(1) >= 0 ? shares.indexOf(1) + 1 : 3);
    expect(total2.rounds_kept).toBe(shares.indexOf(Math.max(...shares)) + 1);
    expect(total2.judged_share).toBe(Math.max(...shares));
    for (const h of [unchecked.model, stopped.model, one.model, all.model] as ModelHandle[]) h.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('iteratedSelection with a stop check: checks every round, keeps the lowest round when none says stop', async () => {
    const before = tf.memory().numTensors;
    const rule = { rho: 0.05, selection: 'per-row', sign: 'positive', rounding: 'floor' } as const;
    const first = selectForErase(attr.set, attr.scores, rule);
    const script = [0.5, 0.25, 0.25, 0.4];
    const checked: number[] = [];
    const zeroedAt: number[] = [];
    const run = (stopBelow: number) => iteratedSelection(model, attr, first, rule, 4, {
      stopWhen: async (edited, round) => {
        checked.push(round);
        const w = edited.weights().get(attr.set.matrices[0]!.name)!.dataSync();
        zeroedAt.push(w.filter((v) => v === 0).length);
        return { value: script[round - 1]!, stop: script[round - 1]! <= stopBelow };
      },
    });
    const kept = await run(0.1);
    expect(checked).toEqual([1, 2, 3, 4]);
    expect(zeroedAt[1]!).toBeGreaterThan(zeroedAt[0]!); // each check sees the edit through its round
    expect(kept.kept).toBe(2);
    const count = (m: Map<string, Uint8Array>) => [...m.values()].reduce((a, u) => a + u.reduce((x, y) => x + y, 0), 0);
    expect(count(kept.selected)).toBe(2 * first.total);
    checked.length = 0;
    const stopped = await run(0.3);
    expect(checked).toEqual([1, 2]);
    expect(stopped.kept).toBe(2);
    expect(stopped.rounds).toHaveLength(2);
    // A spoiled round ends the rounds and is undone — unless it is round 1, the least edit there is.
    const spoiling = (at: number) => iteratedSelection(model, attr, first, rule, 4, {
      stopWhen: async (_edited, round) => ({ value: [0.5, 0.4, 0.05, 0.01][round - 1]!, stop: false, spoiled: round === at }),
    });
    const undone = await spoiling(3);
    expect(undone.rounds).toHaveLength(3);
    expect(undone.kept).toBe(2);
    expect(count(undone.selected)).toBe(2 * first.total);
    const firstSpoiled = await spoiling(1);
    expect(firstSpoiled.rounds).toHaveLength(1);
    expect(firstSpoiled.kept).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Erase keep_at: a round that costs the other values too much is undone and ends the rounds', async () => {
    const judge = join(import.meta.dirname, '..', '..', 'models', 'shapes-judge');
    const judgeModel = await loadJudge(judge);
    const before = tf.memory().numTensors;
    const ctx = fakeCtx();
    // keep_at 1: any round that draws the other shapes right less often than the unedited model is spoiled.
    const out = await eraseNode.execute(ctx, { model, attribution: attr }, eraseParams.parse({ rho: 0.05, rounds: 3, stop_at: 1e-9, stop_samples: 4, check_steps: 4, keep_at: 1, keep_samples: 8, judge }));
    const plan = attr.provenance.plan as FitPlan;
    const unedited = await judgedKeepShare(model, plan, judgeModel, 8);
    expect(ctx.logs.some((l) => l.startsWith(`keep check: the unedited model draws ${(100 * unedited).toFixed(1)} % of 8 other-value samples right; a round that takes it below ${(100 * unedited).toFixed(1)} % is undone (`))).toBe(true);
    const rounds = ctx.logs.filter((l) => /^round \d\/3: /.test(l)).map((l) => ({
      share: Number(/([\d.]+) % of 4 samples/.exec(l)![1]) / 100, keep: Number(/other values right in ([\d.]+) %/.exec(l)![1]) / 100, spoiled: /below the keep floor/.test(l),
    }));
    rounds.forEach((r) => expect(r.spoiled).toBe(r.keep < unedited));
    const total = (out.report as TableValue).rows.at(-1)!;
    const firstSpoiled = rounds.findIndex((r) => r.spoiled);
    expect(total.rounds_run).toBe(rounds.length);
    expect(rounds.length).toBe(firstSpoiled >= 0 ? firstSpoiled + 1 : rounds.findIndex((r) => r.share === 0) >= 0 ? rounds.findIndex((r) => r.share === 0) + 1 : 3);
    const usable = firstSpoiled > 0 ? rounds.slice(0, firstSpoiled) : rounds;
    expect(total.rounds_kept).toBe(usable.findIndex((r) => r.share === Math.min(...usable.map((u) => u.share))) + 1);
    // The keep share reported is the kept edit's, measured on the edited model: the same check gives it again.
    const oneRound = await eraseNode.execute(fakeCtx(), { model, attribution: attr }, eraseParams.parse({ rho: 0.05, rounds: total.rounds_kept as number, stop_at: 0 }));
    expect(total.judged_keep).toBe(await judgedKeepShare(oneRound.model as ModelHandle, plan, judgeModel, 8));
    for (const h of [out.model, oneRound.model] as ModelHandle[]) h.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('FitAttribution anchor auto: open where the prompts can leave the concept open, else ""; per-attribute defaults', async () => {
    const fitRed = async (extra: Record<string, unknown>) => {
      const ctx = fakeCtx();
      const a = (await fitAttributionNode.execute(ctx, { model, components: undefined }, fitParams.parse({ ...fitSmall, concept: 'red', preserve: 1, ...extra }))).attribution as AttributionValue;
      return { a, plan: a.provenance.plan as FitPlan, logs: ctx.logs };
    };
    const auto = await fitRed({});
    expect(auto.plan.anchor).toBe('open');
    expect(auto.logs).toContain("anchor auto → open (the prompts with 'red' left open)");
    const open = await fitRed({ anchor: 'open' });
    expect(auto.a.value).toBe(open.a.value);
    expect(auto.a.value).not.toBe((await fitRed({ anchor: 'empty' })).a.value);
    // Prompts that do not all name the concept, and free-text concepts, cannot leave it open: "" (no error).
    expect((await fitRed({ prompts: ['a red circle on a black background', 'a blue circle on a black background'] })).plan.anchor).toBe('empty');
    expect((await fitRed({ concept: 'shape', prompts: ['a red shape on a black background'], preserve: 0 })).plan.anchor).toBe('empty');
    // Unset preserve and template: per attribute (shapes and backgrounds λ 1 on one template, colours and styles λ 0
    // on every caption template; free text λ 0); an explicit value wins.
    const plan = (p: Record<string, unknown>) => planOf(fitParams.parse(p));
    expect([plan({}), plan({ concept: 'striped' })].map((x) => [x.preserve, x.template])).toEqual([[1, DEFAULT_TEMPLATE], [1, DEFAULT_TEMPLATE]]);
    expect([plan({ concept: 'red' }), plan({ concept: 'outline' })].map((x) => [x.preserve, x.template])).toEqual([[0, CAPTIONS_TEMPLATE], [0, CAPTIONS_TEMPLATE]]);
    expect(plan({ concept: 'a teapot', prompts: ['a teapot'] }).preserve).toBe(0);
    expect(plan({ concept: 'red', preserve: 2, template: DEFAULT_TEMPLATE })).toMatchObject({ preserve: 2, template: DEFAULT_TEMPLATE });
    expect(plan({}).balance).toBe('relative');
    expect(['circle', 'striped', 'red', 'outline'].map((c) => attributeDefaults(c).stopAt)).toEqual([0.1, 0.1, 0.05, 0.05]);
    const parts = auto.a.provenance.parts as { concept: number; keep: number };
    expect(auto.a.value).toBeCloseTo(Math.log(parts.concept) - Math.log(parts.keep), 4);
    expect(auto.logs.some((l) => l.includes(`J_concept ${parts.concept.toPrecision(6)}, J_keep ${parts.keep.toPrecision(6)}`))).toBe(true);
  });

  it('EraseBaseline: every method zeroes CAD\'s count in each matrix; match is required and checked', async () => {
    const before = tf.memory().numTensors;
    const cad = await eraseNode.execute(fakeCtx(), { model, attribution: attr }, eraseParams.parse({ rho: 0.1, selection: 'per-matrix', rounds: 1 }));
    const perMatrix = (t: unknown) => (t as TableValue).rows.slice(0, -1).map((r) => [r.layer, r.weights_zeroed]);
    for (const method of ['random', 'magnitude', 'gradient'] as const) {
      const out = await eraseBaselineNode.execute(fakeCtx(), { model, attribution: attr, match: cad.report }, baselineParams.parse({ method, seed: 3 }));
      expect(perMatrix(out.report)).toEqual(perMatrix(cad.report));
      expect(out.fraction).toBe(cad.fraction);
      (out.model as ModelHandle).dispose();
    }
    // Different ways of choosing pick different weights (random with another seed, too).
    const keyOf = async (p: Record<string, unknown>) => {
      const out = await eraseBaselineNode.execute(fakeCtx(), { model, attribution: attr, match: cad.report }, baselineParams.parse(p));
      const key = (out.model as ModelHandle).key;
      (out.model as ModelHandle).dispose();
      return key;
    };
    expect(new Set([await keyOf({ method: 'random' }), await keyOf({ method: 'random', seed: 1 }), await keyOf({ method: 'magnitude' }), (cad.model as ModelHandle).key]).size).toBe(4);
    const bad = { columns: ['layer', 'cad_components'], rows: [{ layer: attr.set.matrices[0]!.name, cad_components: 1 }] };
    for (const match of [bad, { columns: [], rows: [] }, undefined]) {
      await expect(eraseBaselineNode.execute(fakeCtx(), { model, attribution: attr, match }, baselineParams.parse({}))).rejects.toMatchObject({ input: 'match' });
    }
    (cad.model as ModelHandle).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('FineTuneESD: an ESD-u fine-tune lowers the erase objective, leaves cross-attention alone, leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const out = await fineTuneEsdNode.execute(fakeCtx(), { model, attribution: attr }, esdParams.parse({ steps: 4, lr: 1e-3, guidance: 0 }));
    const edited = out.model as ModelHandle;
    const plan = attr.provenance.plan as FitPlan;
    // ESD-u's target is ε(""), whatever the attribution's anchor.
    const objective = await buildObjective(model, { ...plan, preserve: 0, anchor: 'empty' });
    const j0 = evaluateObjective(objective, model.weights());
    const j1 = evaluateObjective(objective, edited.weights());
    objective.dispose();
    expect(j1).toBeLessThan(j0);
    const names = model.paramNames();
    const same = (n: string) => Array.from(edited.weights().get(n)!.dataSync()).every((v, i) => v === model.weights().get(n)!.dataSync()[i]);
    expect(names.filter((n) => n.includes('attn2.')).every(same)).toBe(true);
    expect(same(attr.set.matrices.find((m) => m.name.includes('.ff.'))!.name)).toBe(false);
    expect((out.report as TableValue).rows.at(-1)!.weights_tuned).toBeGreaterThan(0);
    edited.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('ValidateAttribution: a row per α (plus the edit fraction), Pearson in [-1, 1], J equals the attribution\'s', async () => {
    const out = await validateAttributionNode.execute(fakeCtx(), { model, attribution: attr, edit_fraction: 0.04 }, validateParams.parse({ alphas: [0.1], masks: 5 }));
    const rows = (out.table as TableValue).rows;
    expect(rows.map((r) => r.alpha)).toEqual([0.1, 0.04]);
    for (const r of rows) expect(Math.abs(r.pearson as number)).toBeLessThanOrEqual(1);
    expect(rows[0]!.J as number).toBeCloseTo(attr.value, 2);
    expect((out.points as TableValue).rows).toHaveLength(10);
  });

  it('ValidateAttribution passes=N validates on the first N batches only (J of those batches)', async () => {
    const fitted = await fitAttributionNode.execute(fakeCtx(), { model, components: undefined }, fitParams.parse({ ...fitSmall, batch: 2, preserve: 0 }));
    const a = fitted.attribution as AttributionValue;
    expect(a.provenance.gradientPasses).toBe(2);
    const out = await validateAttributionNode.execute(fakeCtx(), { model, attribution: a, edit_fraction: undefined }, validateParams.parse({ alphas: [0.1], masks: 4, passes: 1 }));
    const j = (out.table as TableValue).rows[0]!.J as number;
    expect(j).toBeGreaterThan(0);
    expect(j).toBeLessThan(a.value);
  });

  it('MaskComponents: random α, list and top-k as overlays; no tensor leaks', async () => {
    const before = tf.memory().numTensors;
    const r = await maskComponentsNode.execute(fakeCtx(), { model, attribution: undefined }, maskParams.parse({ alpha: 0.1, granularity: 'row' }));
    const set = r.components as AttributionValue['set'];
    expect((r.mask as { count: number }).count).toBe(Math.round(0.1 * set.totalComponents));
    const top = await maskComponentsNode.execute(fakeCtx(), { model, attribution: attr }, maskParams.parse({ mode: 'top-k', k: 7 }));
    expect((top.mask as { count: number }).count).toBe(7);
    await expect(maskComponentsNode.execute(fakeCtx(), { model, attribution: undefined }, maskParams.parse({ mode: 'list', list: ['nope:1'] }))).rejects.toMatchObject({ param: 'list' });
    for (const h of [r.model, top.model] as ModelHandle[]) {
      h.weights();
      h.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
