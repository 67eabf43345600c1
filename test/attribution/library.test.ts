// The attribution library on toy models: component sets, masks and overlays, the Erase rule, attribution vs
// finite differences, estimator validation, baselines, and no tensor leaks.
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import {
  aggregateToComponents, buildComponentSet, expandToWeights, globToRegExp,
} from '../../nodes/attribution/components.ts';
import { explicitMask, maskOverlay, randomMask, topKMask, weightMaskOverlay } from '../../nodes/attribution/masks.ts';
import { countsPerMatrix, selectForErase } from '../../nodes/attribution/selection.ts';
import { evaluateObjective, firstPasses, fitAttribution, type AttributionValue, type Objective } from '../../nodes/attribution/attribution.ts';
import { preservingObjective } from '../../nodes/attribution/objectives.ts';
import { validateAttribution } from '../../nodes/attribution/validation.ts';
import { coarSelection, fitCoar, matchedBaselineSelection } from '../../nodes/attribution/baselines.ts';
import { pearson } from '../../nodes/attribution/stats.ts';
import { CAPTIONS_TEMPLATE, DEFAULT_TEMPLATE, keepPrompts, planPrompts, type FitPlan } from '../../nodes/attribution/plan.ts';
import { parsePrompt } from '../../nodes/world/captions.ts';
import { linearObjective, mlpObjective, OTHER, toyHandle, toyWeights, W1, W2 } from './toy-models.ts';

beforeAll(async () => {
  await initRuntime();
});

const source = (w: Map<string, tf.Tensor>) => ({ paramNames: () => [...w.keys()], paramShape: (n: string) => w.get(n)!.shape });

describe('component sets', () => {
  it('globs select the FF matrices by diffusers names, with counts per granularity', () => {
    expect(globToRegExp('**.ff.net.*.weight').test('mid_block.attentions.0.transformer_blocks.0.ff.net.2.weight')).toBe(true);
    expect(globToRegExp('**.ff.net.*.weight').test('ff.net.2.weight')).toBe(true);
    expect(globToRegExp('down_blocks.*.ff.weight').test('down_blocks.0.1.ff.weight')).toBe(false);
    const w = toyWeights();
    const counts = (g: 'weight' | 'row' | 'column' | 'channel' | 'head') =>
      buildComponentSet(source(w), { granularity: g, heads: 2 }).matrices.map((m) => [m.name, m.components]);
    expect(counts('weight')).toEqual([[W1, 40], [W2, 24]]);
    expect(counts('row')).toEqual([[W1, 8], [W2, 3]]);
    expect(counts('column')).toEqual([[W1, 5], [W2, 8]]);
    expect(() => counts('head')).toThrow(/heads/); // W2 has 3 rows: not 2 heads
    const heads = buildComponentSet(source(w), { globs: ['**.ff.net.0.proj.weight'], granularity: 'head', heads: 2 });
    expect(heads.totalComponents).toBe(2);
    expect(() => buildComponentSet(source(w), { globs: ['**.nothing'] })).toThrow(/no parameter/);
    w.forEach((t) => t.dispose());
  });

  it('aggregates weight values to groups and expands group masks back', () => {
    const w = toyWeights();
    const set = buildComponentSet(source(w), { granularity: 'column' });
    const ones = new Map(set.matrices.map((m) => [m.name, new Float32Array(m.rows * m.cols).fill(1)]));
    expect([...aggregateToComponents(set, ones).get(W1)!]).toEqual([8, 8, 8, 8, 8]);
    const sel = new Map([[W1, Uint8Array.from([0, 1, 0, 0, 0])], [W2, new Uint8Array(8)]]);
    const wm = expandToWeights(set, sel).get(W1)!;
    expect(wm.reduce((a, b) => a + b, 0)).toBe(8);
    expect(wm[1]).toBe(1);
    expect(wm[5 + 1]).toBe(1);
    expect(wm[0]).toBe(0);
    w.forEach((t) => t.dispose());
  });
});

describe('masks and overlays', () => {
  it('random masks draw exactly round(α·n) components, deterministically per seed', () => {
    const w = toyWeights();
    const set = buildComponentSet(source(w));
    const a = randomMask(set, 0.1, 3);
    const b = randomMask(set, 0.1, 3);
    const c = randomMask(set, 0.1, 4);
    expect(a.count).toBe(Math.round(0.1 * 64));
    expect([...a.selected.get(W1)!]).toEqual([...b.selected.get(W1)!]);
    expect([...a.selected.get(W1)!, ...a.selected.get(W2)!]).not.toEqual([...c.selected.get(W1)!, ...c.selected.get(W2)!]);
    expect(explicitMask(set, [`${W2}:5`, `${W1}:0`]).count).toBe(2);
    expect(() => explicitMask(set, [`${W2}:24`])).toThrow(/index/);
    const scores = new Map([[W1, Float32Array.from({ length: 40 }, (_, i) => i - 20)], [W2, new Float32Array(24)]]);
    const top = topKMask(set, scores, 3, 'positive');
    expect([...top.selected.get(W1)!.keys()].filter((i) => top.selected.get(W1)![i])).toEqual([37, 38, 39]);
    const neg = topKMask(set, scores, 2, 'negative');
    expect(neg.selected.get(W1)![0]).toBe(1);
    expect(neg.selected.get(W1)![1]).toBe(1);
    w.forEach((t) => t.dispose());
  });

  it('overlays zero / mean / scale, compose in order, and removing them leaves the weights bit-identical', () => {
    const base = toyWeights();
    const set = buildComponentSet(source(base), { granularity: 'row' });
    const before = Float32Array.from(base.get(W1)!.dataSync());
    const h0 = toyHandle(base);
    const zero = maskOverlay(explicitMask(set, [`${W1}:2`]));
    const h1 = h0.withOverlay(zero);
    const w1 = h1.weights().get(W1)!.dataSync();
    for (let c = 0; c < 5; c++) expect(Math.abs(w1[2 * 5 + c]!)).toBe(0);
    expect(w1[0]).toBe(before[0]);
    expect(h1.weights().get(OTHER)).toBe(base.get(OTHER)); // untouched params are not copied

    const scale = maskOverlay(explicitMask(set, [`${W1}:2`, `${W1}:3`], { mode: 'scale', k: 2 }));
    const meanOv = maskOverlay(explicitMask(set, [`${W1}:4`], { mode: 'mean' }));
    const h2 = h0.withOverlay(scale).withOverlay(meanOv);
    const w2 = h2.weights().get(W1)!.dataSync();
    expect(w2[3 * 5]).toBeCloseTo(2 * before[3 * 5]!, 6);
    const meanAfterScale = (before.reduce((a, b) => a + b, 0) + before.slice(10, 20).reduce((a, b) => a + b, 0)) / 40;
    expect(w2[4 * 5 + 1]).toBeCloseTo(meanAfterScale, 5); // mean taken after the scale overlay: order matters

    const h3 = h2.withOverlay(zero).withoutOverlay(scale.id).withoutOverlay(meanOv.id).withoutOverlay(zero.id);
    expect(h3.overlays).toHaveLength(0);
    expect(Buffer.from(h3.weights().get(W1)!.dataSync().buffer).equals(Buffer.from(before.buffer))).toBe(true);
    expect(Buffer.from(base.get(W1)!.dataSync().buffer).equals(Buffer.from(before.buffer))).toBe(true);
    expect(zero.id).not.toBe(scale.id);
    expect(maskOverlay(explicitMask(set, [`${W1}:2`])).id).toBe(zero.id); // content-addressed
    for (const h of [h1, h2, h3]) h.dispose();
    base.forEach((t) => t.dispose());
  });
});

describe('Erase selection rule', () => {
  // One matrix, 2 rows × 10 inputs.
  const W = 'mid_block.attentions.0.transformer_blocks.0.ff.net.2.weight';
  const shapeSrc = { paramNames: () => [W], paramShape: () => [2, 10] };
  const set = buildComponentSet(shapeSrc);
  const s = new Map([[W, Float32Array.from([
    5, -1, 3, 0, -4, 2, 1, -2, 4, -3,
    -1, -2, -3, -4, -5, -6, 0.5, -7, -8, -9,
  ])]]);
  const picked = (sel: Map<string, Uint8Array>) => [...sel.get(W)!.keys()].filter((i) => sel.get(W)![i]);

  it('per-row: k = floor/ceil(ρ·n_in) of the wanted sign per row, short rows reported', () => {
    const floor = selectForErase(set, s, { rho: 0.25, selection: 'per-row', sign: 'positive', rounding: 'floor' });
    expect(floor.report[0]!.k).toBe(2);
    expect(picked(floor.selected)).toEqual([0, 8, 16]); // row 1 has one entry ≥ 0 only
    expect(floor.report[0]!.unitsShort).toBe(1);
    expect(floor.total).toBe(3);
    const ceil = selectForErase(set, s, { rho: 0.25, selection: 'per-row', sign: 'positive', rounding: 'ceil' });
    expect(ceil.report[0]!.k).toBe(3);
    expect(picked(ceil.selected)).toEqual([0, 2, 8, 16]);
    const zeroK = selectForErase(set, s, { rho: 0.05, selection: 'per-row', sign: 'positive', rounding: 'floor' });
    expect(zeroK.report[0]!.k).toBe(0);
    expect(zeroK.total).toBe(0);
    const neg = selectForErase(set, s, { rho: 0.2, selection: 'per-row', sign: 'negative', rounding: 'floor' });
    expect(picked(neg.selected)).toEqual([4, 9, 18, 19]);
    const both = selectForErase(set, s, { rho: 0.1, selection: 'per-row', sign: 'both', rounding: 'floor' });
    expect(picked(both.selected)).toEqual([0, 19]);
  });

  it('per-matrix and global rank over the whole matrix / set', () => {
    const pm = selectForErase(set, s, { rho: 0.1, selection: 'per-matrix', sign: 'positive', rounding: 'floor' });
    expect(pm.report[0]!.k).toBe(2);
    expect(picked(pm.selected)).toEqual([0, 8]);
    const gl = selectForErase(set, s, { rho: 0.15, selection: 'global', sign: 'negative', rounding: 'ceil' });
    expect(picked(gl.selected)).toEqual([17, 18, 19]);
    expect(gl.total).toBe(3);
    const rowSet = buildComponentSet(shapeSrc, { granularity: 'row' });
    expect(() => selectForErase(rowSet, new Map([[W, new Float32Array(2)]]), { rho: 0.5, selection: 'per-row', sign: 'positive', rounding: 'floor' })).toThrow(/per-row/);
  });

  it('excluded components (zeroed by an earlier round) are never candidates, under every selection', () => {
    const exclude = new Map([[W, Uint8Array.from({ length: 20 }, (_, i) => (i === 0 || i === 8 || i === 17 ? 1 : 0))]]);
    const row = selectForErase(set, s, { rho: 0.25, selection: 'per-row', sign: 'positive', rounding: 'floor' }, exclude);
    expect(picked(row.selected)).toEqual([2, 5, 16]);
    expect(row.report[0]!.unitsShort).toBe(1);
    const pm = selectForErase(set, s, { rho: 0.1, selection: 'per-matrix', sign: 'positive', rounding: 'floor' }, exclude);
    expect(picked(pm.selected)).toEqual([2, 5]);
    const gl = selectForErase(set, s, { rho: 0.15, selection: 'global', sign: 'negative', rounding: 'ceil' }, exclude);
    expect(picked(gl.selected)).toEqual([15, 18, 19]);
  });
});

describe('attribution, validation, baselines on toy models', () => {
  /** Checks s against a central finite difference of evaluateObjective along a few weights. */
  function expectScoresMatchFiniteDifferences(obj: Objective, w: Map<string, tf.Tensor>, attr: AttributionValue) {
    const h = 1e-2;
    for (const [name, idx] of [[W1, 0], [W1, 17], [W1, 39], [W2, 5], [W2, 23]] as const) {
      const base = w.get(name)!;
      const data = base.dataSync();
      const shifted = (f: number) => {
        const d = Float32Array.from(data);
        d[idx] = data[idx]! * (1 + f);
        return new Map(w).set(name, tf.tensor(d, base.shape));
      };
      const plus = shifted(h);
      const minus = shifted(-h);
      const fd = (evaluateObjective(obj, plus) - evaluateObjective(obj, minus)) / (2 * h);
      plus.get(name)!.dispose();
      minus.get(name)!.dispose();
      const s = attr.scores.get(name)![idx]!;
      expect(Math.abs(fd - s)).toBeLessThan(2e-3 * Math.max(1, Math.abs(s)));
    }
  }

  it('s = w ⊙ Σ∇J equals a finite-difference ΔJ along each weight (2-layer MLP)', async () => {
    const w = toyWeights(3);
    const obj = mlpObjective();
    const set = buildComponentSet(source(w));
    const passes: number[] = [];
    const attr = await fitAttribution(set, obj, w, { onPass: (d) => passes.push(d) });
    expect(passes).toEqual([1, 2]);
    expect(attr.value).toBeCloseTo(evaluateObjective(obj, w), 3);
    expectScoresMatchFiniteDifferences(obj, w, attr);
    obj.dispose();
    w.forEach((t) => t.dispose());
  });

  it('preserving objectives: difference J_c − λ·J_k and relative ln J_c − λ·ln J_k, scores vs finite differences', async () => {
    const w = toyWeights(3);
    const set = buildComponentSet(source(w));
    const valueOf = (o: Objective) => { const v = evaluateObjective(o, w); o.dispose(); return v; };
    const parts = { concept: valueOf(mlpObjective(2, 11)), keep: valueOf(mlpObjective(3, 21)) };
    const before = tf.memory().numTensors;
    for (const [balance, expected] of [
      ['difference', parts.concept - 0.5 * parts.keep],
      ['relative', Math.log(parts.concept) - 0.5 * Math.log(parts.keep)],
    ] as const) {
      const obj = preservingObjective(mlpObjective(2, 11), mlpObjective(3, 21), 0.5, balance);
      expect(obj.passes).toBe(5);
      const passes: string[] = [];
      const attr = await fitAttribution(set, obj, w, { onPass: (d, n) => passes.push(`${d}/${n}`) });
      expect(passes).toEqual(['1/5', '2/5', '3/5', '4/5', '5/5']); // progress runs over both parts' passes
      expect(attr.value).toBeCloseTo(expected, 4);
      expect(evaluateObjective(obj, w)).toBeCloseTo(expected, 4);
      const logged = attr.provenance.parts as Record<string, number>;
      expect(logged.concept).toBeCloseTo(parts.concept, 3);
      expect(logged.keep).toBeCloseTo(parts.keep, 3);
      expectScoresMatchFiniteDifferences(obj, w, attr);
      // A composite has no per-pass J: the first passes of each part, in proportion.
      const first = firstPasses(obj, 3);
      expect(first.composite!.parts.map((p) => p.passes)).toEqual([1, 2]);
      obj.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    w.forEach((t) => t.dispose());
  });

  it('validation: Pearson ≈ 1 on a linear model, the shuffled control is not', async () => {
    const w = toyWeights(5);
    const obj = linearObjective();
    const set = buildComponentSet(source(w));
    const attr = await fitAttribution(set, obj, w);
    const res = await validateAttribution(attr, obj, w, { alphas: [0.1, 0.25], masksPerAlpha: 40, seed: 1 });
    expect(res.rows).toHaveLength(2);
    for (const r of res.rows) {
      expect(r.pearson).toBeGreaterThan(0.9999);
      expect(Math.abs(r.control_pearson)).toBeLessThan(0.7);
      expect(r.components).toBe(Math.round(r.alpha * 64));
    }
    for (const p of res.points) expect(p.actual).toBeCloseTo(p.predicted, 3);
    // On the MLP the first-order estimate is good at small α and still clearly beats the control.
    const mlp = mlpObjective();
    const attrMlp = await fitAttribution(set, mlp, w);
    const resMlp = await validateAttribution(attrMlp, mlp, w, { alphas: [0.05], masksPerAlpha: 40, seed: 2 });
    expect(resMlp.rows[0]!.pearson).toBeGreaterThan(resMlp.rows[0]!.control_pearson);
    obj.dispose();
    mlp.dispose();
    w.forEach((t) => t.dispose());
  });

  it('baselines: same per-matrix counts as CAD; COAR recovers the row effects of a linear model', async () => {
    const w = toyWeights(9);
    const obj = linearObjective();
    const set = buildComponentSet(source(w));
    const attr = await fitAttribution(set, obj, w);
    const cad = selectForErase(set, attr.scores, { rho: 0.2, selection: 'per-row', sign: 'positive', rounding: 'floor' });
    for (const kind of ['random', 'magnitude', 'gradient'] as const) {
      const sel = matchedBaselineSelection(kind, attr, countsPerMatrix(cad.selected), 1);
      for (const m of set.matrices) {
        expect(sel.get(m.name)!.reduce((a, b) => a + b, 0)).toBe(cad.selected.get(m.name)!.reduce((a, b) => a + b, 0));
      }
    }
    const mag = matchedBaselineSelection('magnitude', attr, countsPerMatrix(cad.selected), 1).get(W1)!;
    const absW = [...w.get(W1)!.dataSync()].map(Math.abs);
    const minPicked = Math.min(...absW.filter((_, i) => mag[i]));
    const maxLeft = Math.max(...absW.filter((_, i) => !mag[i]));
    expect(minPicked).toBeGreaterThanOrEqual(maxLeft);

    const fit = await fitCoar(source(w), set.globs, obj, w, { masks: 60, keepProbability: 0.95, seed: 3 });
    expect(fit.set.totalComponents).toBe(11);
    expect(fit.r2).toBeGreaterThan(0.99);
    // Linear in the rows, so the fit on 48 masks also predicts the 12 it did not see; under 10 masks none are held out.
    expect(fit.r2HeldOut).toBeGreaterThan(0.95);
    const few = await fitCoar(source(w), set.globs, obj, w, { masks: 8, keepProbability: 0.95, seed: 3 });
    expect(few.heldOutMasks).toBe(0);
    expect(few.r2HeldOut).toBeNaN();
    expect(fit.heldOutMasks).toBe(12);
    const rowScores = aggregateToComponents(fit.set, new Map(set.matrices.map((m) => [m.name, attr.scores.get(m.name)!])));
    const beta = [...fit.coefficients.get(W1)!, ...fit.coefficients.get(W2)!];
    const truth = [...rowScores.get(W1)!, ...rowScores.get(W2)!];
    expect(pearson(beta, truth)).toBeGreaterThan(0.99);
    const chosen = coarSelection(fit, 12);
    const n = [...chosen.weightMasks.values()].reduce((a, m) => a + m.reduce((x, y) => x + y, 0), 0);
    expect(n).toBe(chosen.weights);
    expect(Math.abs(n - 12)).toBeLessThanOrEqual(8);
    obj.dispose();
    w.forEach((t) => t.dispose());
  });

  it('leaks no tensors across attribution, validation, COAR and overlays', async () => {
    const w = toyWeights(13);
    const obj = mlpObjective();
    const set = buildComponentSet(source(w));
    const run = async () => {
      const attr = await fitAttribution(set, obj, w);
      await validateAttribution(attr, obj, w, { alphas: [0.1], masksPerAlpha: 5, seed: 1 });
      await fitCoar(source(w), set.globs, obj, w, { masks: 5, keepProbability: 0.95, seed: 1 });
      const sel = selectForErase(set, attr.scores, { rho: 0.2, selection: 'per-row', sign: 'positive', rounding: 'ceil' });
      const ov = weightMaskOverlay(sel.selected, new Map(set.matrices.map((m) => [m.name, m.shape])), { mode: 'zero' }, 'erase');
      const h = toyHandle(w).withOverlay(ov);
      h.weights();
      h.dispose();
    };
    await run();
    const before = tf.memory().numTensors;
    await run();
    await run();
    expect(tf.memory().numTensors).toBe(before);
    obj.dispose();
    w.forEach((t) => t.dispose());
  });
});

describe('fit prompts', () => {
  const plan = (concept: string, template: string): FitPlan => ({
    concept, objective: 'erase', prompts: [], template, samples: 40, timesteps: 2, mode: 'reuse', steps: 5, cfg: 3, eta: 0, batch: 8, seed: 7, images: 'world',
  });
  // A prompt's form: its words with the world's values blanked.
  const form = (p: string) => p.replace(/\b(red|green|blue|yellow|purple|white|circle|square|triangle|star|cross|heart|filled|outlined|black|gray|striped|dotted)\b/g, '_').replace(/\ban?\b/g, 'a');

  it('"captions" draws the concept\'s prompts from the world\'s caption templates; the keep prompts name the other values', () => {
    for (const concept of ['circle', 'red', 'outline']) {
      const p = planPrompts(plan(concept, CAPTIONS_TEMPLATE));
      expect(p.prompts).toHaveLength(40);
      const attr = concept === 'red' ? 'colour' : concept === 'outline' ? 'style' : 'shape';
      expect(p.prompts.every((q, i) => parsePrompt(q)[attr] === concept && p.labels[i]![attr] === concept)).toBe(true);
      expect(new Set(p.prompts.map(form)).size).toBeGreaterThan(1);
      expect(planPrompts(plan(concept, CAPTIONS_TEMPLATE))).toEqual(p);
      const keep = keepPrompts(plan(concept, CAPTIONS_TEMPLATE));
      expect(keep.prompts.every((q, i) => parsePrompt(q)[attr] === keep.labels[i]![attr] && keep.labels[i]![attr] !== concept)).toBe(true);
    }
    // The one-template default fills every slot: a single form.
    expect(new Set(planPrompts(plan('circle', DEFAULT_TEMPLATE)).prompts.map(form)).size).toBe(1);
    expect(() => planPrompts(plan('dragon', CAPTIONS_TEMPLATE))).toThrow(/"dragon" is not one/);
  });
});
