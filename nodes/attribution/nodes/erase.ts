// Erase: zero the components an attribution ranks top (CAD's edit), or — for comparison — the same number of
// weights chosen at random, by |w|, by |Σ∇J|, or by COAR. A reversible overlay on the MODEL handle; reports
// exactly how many weights it zeroed per matrix. On an amplify attribution this amplifies (or recalls) the concept.
import { z } from 'zod';
import { defineNode, NodeInputError, NodeParamError, type NodeContext } from '../../sdk/index.ts';
import { initRuntime } from '../../sdk/runtime.ts';
import type { TableValue } from '../../sdk/values.ts';
import type { AttributionValue } from '../attribution.ts';
import { BASELINES, coarSelection, fitCoar, matchedBaselineSelection } from '../baselines.ts';
import { expandToWeights } from '../components.ts';
import { zeroOverlay } from '../masks.ts';
import { buildObjective, CAPTIONS_TEMPLATE, type FitPlan } from '../plan.ts';
import { countsPerMatrix, selectForErase, type EraseSelection } from '../selection.ts';
import { iteratedSelection, type RoundCheck } from '../rounds.ts';
import { checkedAttribute, judgedConceptShare, judgedKeepShare } from '../stop-check.ts';
import { judgeFor } from '../../evaluation/nodes/shared.ts';
import { modelFolderSignature } from '../../diffusion/folder-signature.ts';
import { partsText, requireAttribution, requireModel } from './shared.ts';
import { deltaOverlay, esdFineTune } from '../esd.ts';
import type { ModelHandle } from '../../diffusion/handle.ts';

/**
 * Defaults: up to 8 rounds of per-row ρ = 0.02 (2.7 % of shapes-tiny's FF weights each). One edit of ρ = 0.1 (Erase
 * v1's default) erased about as much as 4 rounds at 26,032 weights but cost the other shapes far more; after 4 rounds
 * most concepts were still fading — nodes/attribution/MEASUREMENTS.md.
 */
export const DEFAULT_RHO = 0.02;
export const DEFAULT_ROUNDS = 8;
/** Rounds end early once the judge sees the concept in ≤ 10 % of fresh samples (the erase target of the evaluation). */
export const DEFAULT_STOP_AT = 0.1;
/** …and a round is undone, ending the rounds, once the other values are drawn right < 95 % as often as unedited (the keep target). */
export const DEFAULT_KEEP_AT = 0.95;
/** Amplify / recall rounds end once the judge sees the concept in ≥ 90 % of fresh samples of its prompts. */
export const DEFAULT_RECALL_AT = 0.9;

export const eraseParams = z.object({
  method: z.enum(['cad', ...BASELINES, 'esd']).default('cad')
    .describe('cad: the attribution\'s top components; random / magnitude (|w|) / gradient (|Σ∇J|) / coar: the same number of weights chosen another way; esd: an ESD-u fine-tune on the attribution\'s erase objective (changes weights, zeroes none)'),
  rho: z.number().min(0).max(1).default(DEFAULT_RHO)
    .describe('Fraction to zero: of each row\'s inputs (per-row), of each matrix (per-matrix) or of the whole set (global). The paper\'s 1e-3 gives k = 0 on rows narrower than 1,000 inputs'),
  selection: z.enum(['per-row', 'per-matrix', 'global']).default('per-row').describe('Where the top-k is taken'),
  sign: z.enum(['positive', 'negative', 'both']).default('positive')
    .describe('positive: components with s ≥ 0 (those that raise J); negative: s ≤ 0; both: by |s|'),
  rounding: z.enum(['floor', 'ceil']).default('floor').describe('k = floor or ceil of ρ·n'),
  rounds: z.number().int().min(1).max(20).default(DEFAULT_ROUNDS)
    .describe('Erase in rounds of ρ each; round r > 1 refits the attribution (its FitAttribution plan, seed + r − 1) on the model edited so far, since the first-order score predicts small edits only. Baselines zero rounds × one round\'s count'),
  stop_at: z.number().min(0).max(1).default(DEFAULT_STOP_AT)
    .describe('With rounds > 1 (CAD): after each round, sample stop_samples fresh prompts of the concept on the model edited so far and stop once at most this share is judged to show it; rounds is then the most, and if no round gets there the round with the lowest share is kept. Erase attributions only (amplify: recall_at); off (logged) for concepts the judge does not know. 0 = run every round'),
  recall_at: z.number().min(0).max(1).default(DEFAULT_RECALL_AT)
    .describe('The stop check of an amplify attribution (recall on an erased model) with rounds > 1 (CAD): stop once at least this share of stop_samples fresh samples of the concept\'s prompts is judged to show it; if no round gets there the round with the highest share is kept. The keep check applies as for erasing. 0 = run every round'),
  stop_samples: z.number().int().min(4).max(512).default(64).describe('Samples per stop / recall check (the fit\'s DDIM steps, CFG and eta; 64 since v6, 32 before)'),
  check_prompts: z.enum(['fit', 'captions']).default('captions')
    .describe('Prompts of the stop / recall and keep checks: the world\'s caption templates around the concept and the other values (captions, the default since v6: every phrasing the evaluation protocol uses, world concepts only — on shapes-tiny the fit\'s one template read cross at 9.4 % where the protocol read 0.3) or the attribution\'s own (fit: its template or prompts)'),
  keep_at: z.number().min(0).max(1).default(DEFAULT_KEEP_AT)
    .describe('Part of the stop check: also sample keep_samples prompts of the attribute\'s other values ("a blue square …" when erasing circle) before the first round and after each; a round after which the judge reads them right less than keep_at × as often as on the unedited model is undone and ends the rounds (round 1 is kept, with a warning). 0 = off'),
  keep_samples: z.number().int().min(4).max(512).default(64).describe('Samples per keep check'),
  judge: z.string().default('shapes-judge').describe('Judge of the stop check: bundled name or folder'),
  seed: z.number().int().min(0).default(0).describe('Seed of the random baseline and of COAR\'s masks'),
  coar_masks: z.number().int().min(4).max(5000).default(200).describe('COAR: number of random keep-masks (forward evaluations of J)'),
  coar_keep: z.number().min(0.5).max(0.999).default(0.95).describe('COAR: probability a row is kept in each mask'),
  esd_steps: z.number().int().min(1).max(10000).default(100).describe('ESD: Adam steps (one batch of the erase objective\'s (x_t, t) pairs each)'),
  esd_lr: z.number().min(1e-7).max(1e-1).default(1e-4).describe('ESD: Adam learning rate'),
  esd_guidance: z.number().min(0).max(10).default(1).describe('ESD: negative guidance η of the target ε("") − η·(ε(c) − ε(""))'),
});

/** The ESD-u contrast: fine-tune instead of zeroing, on the objective rebuilt from the attribution's plan. */
async function esdErase(ctx: NodeContext, model: ModelHandle, attr: AttributionValue, params: z.infer<typeof eraseParams>) {
  const plan = attr.provenance.plan as FitPlan | undefined;
  if (!plan || plan.objective !== 'erase') throw new NodeInputError('attribution', 'ESD needs an erase attribution fitted with FitAttribution (its plan gives the prompts and trajectories)');
  const hooks = { throwIfAborted: () => ctx.throwIfAborted() };
  const objective = await buildObjective(model, { ...plan, preserve: 0, anchor: 'empty', guidance: params.esd_guidance }, hooks);
  let tuned;
  try {
    tuned = await esdFineTune(objective, model.weights(), { steps: params.esd_steps, lr: params.esd_lr, seed: params.seed }, {
      ...hooks, onPass: (d, n) => ctx.progress(d, n, 'ESD steps'),
    });
  } finally {
    objective.dispose();
  }
  const changed = [...tuned.deltas.values()].reduce((a, d) => a + d.length, 0);
  const label = `ESD-u erase '${plan.concept}' (${params.esd_steps} steps, lr ${params.esd_lr}, η ${params.esd_guidance}): ${changed.toLocaleString('en-US')} weights tuned`;
  ctx.log(`${label}; loss ${tuned.losses[0]?.toFixed(3)} → ${tuned.losses.at(-1)?.toFixed(3)}`);
  const report: TableValue = {
    columns: ['layer', 'weights_tuned', 'mean_abs_change', 'weights_zeroed'],
    rows: [
      ...[...tuned.deltas].map(([layer, d]) => ({ layer, weights_tuned: d.length, mean_abs_change: d.reduce((a, v) => a + Math.abs(v), 0) / d.length, weights_zeroed: 0 })),
      { layer: 'total (esd)', weights_tuned: changed, mean_abs_change: null, weights_zeroed: 0 },
    ],
  };
  return { model: model.withOverlay(deltaOverlay(tuned.deltas, label)), report, fraction: 0 };
}

/**
 * The rounds' stop check: the judge's share of fresh concept samples, against stop_at (erase: at most) or recall_at
 * (amplify: at least), and (keep_at > 0) its share of other-value samples drawn right, against keep_at × the unedited
 * model's; undefined (logged) where it cannot apply. The check's value is what is left to do: the share still showing
 * the concept when erasing, the share not yet showing it when amplifying (so the round with the lowest is kept).
 */
async function judgedStop(ctx: NodeContext, model: ModelHandle, attr: AttributionValue, params: z.infer<typeof eraseParams>): Promise<RoundCheck | undefined> {
  const fitPlan = attr.provenance.plan as FitPlan;
  const plan: FitPlan = params.check_prompts === 'captions' ? { ...fitPlan, prompts: [], template: CAPTIONS_TEMPLATE } : fitPlan;
  const amplify = plan.objective === 'amplify';
  const judge = await judgeFor(ctx, 'judge', params.judge);
  try {
    checkedAttribute(plan, judge);
  } catch (err) {
    ctx.log(`${amplify ? 'recall' : 'stop'} check off: ${(err as Error).message} (every round runs)`);
    return undefined;
  }
  let keepFloor = 0;
  if (params.keep_at > 0) {
    const unedited = await judgedKeepShare(model, plan, judge, params.keep_samples, ctx.signal);
    keepFloor = params.keep_at * unedited;
    ctx.log(`keep check: the unedited model draws ${(100 * unedited).toFixed(1)} % of ${params.keep_samples} other-value samples right; a round that takes it below ${(100 * keepFloor).toFixed(1)} % is undone`);
  }
  return async (edited) => {
    const shown = await judgedConceptShare(edited, plan, judge, params.stop_samples, ctx.signal);
    const check = amplify ? { value: 1 - shown, share: shown, stop: shown >= params.recall_at } : { value: shown, share: shown, stop: shown <= params.stop_at };
    if (params.keep_at === 0) return check;
    const keep = await judgedKeepShare(edited, plan, judge, params.keep_samples, ctx.signal);
    return { ...check, keep, spoiled: keep < keepFloor };
  };
}

/** Per-matrix component counts from an Erase report (its cad_components column), checked against the attribution's set. */
function matchedCounts(value: unknown, attr: AttributionValue): Map<string, number> {
  const table = value as TableValue | undefined;
  if (!table || !Array.isArray(table.rows) || !table.columns?.includes('cad_components')) throw new NodeInputError('match', 'expected an Erase report (a TABLE with layer and cad_components columns)');
  const byLayer = new Map(table.rows.map((r) => [r.layer, r.cad_components]));
  return new Map(attr.set.matrices.map((m) => {
    const n = byLayer.get(m.name);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > m.components) {
      throw new NodeInputError('match', `the report has no count of 0…${m.components} for ${m.name} (${JSON.stringify(n)}): was it made with this attribution's component set?`);
    }
    return [m.name, n];
  }));
}

function weightsPerComponent(attr: AttributionValue): Map<string, number> {
  return new Map(attr.set.matrices.map((m) => [m.name, (m.rows * m.cols) / m.components]));
}

export const eraseNode = defineNode({
  type: 'Erase',
  typeVersion: 6,
  // v1 had no rounds (one edit) and ρ = 0.1 by default; v2 ran every round (no stop check); v3 ran up to 4 rounds, no
  // keep check; v4 ran every round of an amplify attribution (no recall check); v5 checked 32 samples of the fit's prompts.
  migrations: {
    1: (p) => ({ rho: 0.1, rounds: 1, ...p }), 2: (p) => ({ stop_at: 0, ...p }), 3: (p) => ({ rounds: 4, keep_at: 0, ...p }),
    4: (p) => ({ recall_at: 0, ...p }), 5: (p) => ({ check_prompts: 'fit', stop_samples: 32, ...p }),
  },
  category: 'attribution',
  displayName: 'Erase',
  description: 'Zero the top components of an attribution (per-row top-k = ⌊ρ·n_in⌋ with s ≥ 0, as CAD), or baselines with the same count. Reversible overlay; exact counts reported. With an amplify attribution it amplifies / recalls the concept.',
  inputs: {
    model: { type: 'MODEL', description: 'The model to edit (the one the attribution was fitted on, or an already edited one)' },
    attribution: { type: 'ATTRIBUTION' },
    match: { type: 'TABLE', optional: true, description: 'A CAD Erase\'s report: the baselines zero its per-matrix count (what it really zeroed, e.g. after a stop_at) instead of rounds × one round\'s' },
  },
  outputs: {
    model: { type: 'MODEL', description: 'The edited model (an overlay over the same weights)' },
    report: { type: 'TABLE', description: 'Per matrix: k, units short of k, components and weights zeroed (wire it to a baseline Erase\'s match)' },
    fraction: { type: 'NUMBER', description: 'Zeroed components / components in the set (the edit\'s α, for ValidateAttribution)' },
  },
  params: eraseParams,
  // The stop and keep checks' judge decides which rounds are kept.
  signature: (params) => [modelFolderSignature(params.judge)],
  async execute(ctx, inputs, params) {
    await initRuntime();
    const model = requireModel(inputs.model);
    const attr = requireAttribution(inputs.attribution, model);
    // ESD tunes weights instead of zeroing a selection: ρ and the selection rule do not apply to it.
    if (params.method === 'esd') return esdErase(ctx, model, attr, params);
    const rule = { rho: params.rho, selection: params.selection, sign: params.sign, rounding: params.rounding };
    let cad: EraseSelection;
    try {
      cad = selectForErase(attr.set, attr.scores, rule);
    } catch (err) {
      throw new NodeParamError('selection', (err as Error).message);
    }
    const zeroK = cad.report.filter((r) => r.k === 0);
    if (cad.total === 0) {
      throw new NodeParamError('rho', zeroK.length === cad.report.length
        ? `ρ = ${params.rho} gives k = 0 in every ${params.selection === 'per-row' ? 'row' : 'matrix'} (rows are ${attr.set.matrices.map((m) => m.cols).join('/')} wide): it would zero nothing. Raise rho or use rounding "ceil"`
        : `no component has the wanted sign (${params.sign}): nothing to zero`);
    }
    if (zeroK.length) ctx.log(`warning: k = 0 in ${zeroK.map((r) => r.name).join(', ')} — nothing zeroed there`);

    const perComp = weightsPerComponent(attr);
    const rounds = params.rounds;
    const concept = (attr.provenance.plan as FitPlan | undefined)?.concept ?? '';
    let roundsKept = rounds;
    // Components CAD zeroes per matrix (all rounds); what the baselines match.
    let cadCounts = new Map([...countsPerMatrix(cad.selected)].map(([name, n]) => [name, n * rounds]));
    let unitsShort = new Map(cad.report.map((r) => [r.name, r.unitsShort]));
    if (inputs.match !== undefined) {
      if (params.method === 'cad') ctx.log('match is for the baselines: CAD ignores it');
      else cadCounts = matchedCounts(inputs.match, attr);
    }
    const cadWeights = [...cadCounts].reduce((a, [name, n]) => a + n * perComp.get(name)!, 0);
    let weightMasks: Map<string, Uint8Array>;
    let extra: Record<string, number> = {};
    if (params.method === 'cad' && rounds > 1) {
      if (!attr.provenance.plan) throw new NodeInputError('attribution', 'rounds > 1 refits the attribution: fit it with FitAttribution (its plan is missing)');
      const amplify = (attr.provenance.plan as FitPlan).objective === 'amplify';
      const stopWhen = (amplify ? params.recall_at : params.stop_at) > 0 ? await judgedStop(ctx, model, attr, params) : undefined;
      const stopText = amplify ? `≥ ${100 * params.recall_at} %` : `≤ ${100 * params.stop_at} %`;
      const iterated = await iteratedSelection(model, attr, cad, rule, rounds, {
        throwIfAborted: () => ctx.throwIfAborted(), signal: ctx.signal, workers: 'auto', stopWhen,
        onRound: (r, res) => {
          // A stop or a spoiled round ends the work: the bar goes to the end, not to r of rounds.
          const ends = res.check?.stop || res.check?.spoiled;
          ctx.progress(ends ? rounds : r, rounds, ends ? `erase rounds (stopped after ${r})` : 'erase rounds');
          const keep = res.check?.keep === undefined ? '' : `; other values right in ${(100 * res.check.keep).toFixed(1)} %${res.check.spoiled ? `: below the keep floor, round ${r} ${r > 1 ? 'undone' : 'kept (it is the least edit)'}` : ''}`;
          const check = res.check ? `; ${(100 * res.check.share!).toFixed(1)} % of ${params.stop_samples} samples judged '${concept}'${res.check.stop ? ` ${stopText}: stop` : ''}${keep}` : '';
          ctx.log(`round ${r}/${rounds}: J ${res.value.toPrecision(6)}${partsText(res.parts)}, ${res.selection.total} components selected${check}`);
        },
      });
      roundsKept = iterated.kept;
      if (stopWhen) {
        const kept = iterated.rounds[iterated.kept - 1]!.check!;
        if (kept.spoiled) ctx.log(`warning: round 1 already takes the other values below the keep floor; it is kept, as the least edit there is (lower rho or set keep_at 0)`);
        else if (!kept.stop) ctx.log(`no round reached ${stopText}: keeping the edit of round ${iterated.kept} (${(100 * kept.share!).toFixed(1)} %), the ${amplify ? 'highest' : 'lowest'} share`);
        extra = { rounds_run: iterated.rounds.length, rounds_kept: iterated.kept, judged_share: kept.share!, ...(kept.keep === undefined ? {} : { judged_keep: kept.keep }) };
      }
      weightMasks = expandToWeights(attr.set, iterated.selected);
      cadCounts = countsPerMatrix(iterated.selected);
      unitsShort = new Map(attr.set.matrices.map((m) => [m.name, iterated.rounds.slice(0, iterated.kept).reduce((a, r) => a + r.selection.report.find((x) => x.name === m.name)!.unitsShort, 0)]));
    } else if (params.method === 'cad') {
      weightMasks = expandToWeights(attr.set, cad.selected);
    } else if (params.method === 'coar') {
      const plan = attr.provenance.plan as FitPlan | undefined;
      if (!plan) throw new NodeInputError('attribution', 'COAR needs the attribution\'s objective plan (fit it with FitAttribution)');
      const objective = await buildObjective(model, plan, { throwIfAborted: () => ctx.throwIfAborted() });
      try {
        const fit = await fitCoar(model, attr.set.globs, objective, model.weights(), {
          masks: params.coar_masks, keepProbability: params.coar_keep, seed: params.seed,
        }, { throwIfAborted: () => ctx.throwIfAborted(), onPass: (d, n) => ctx.progress(d, n, 'COAR masks') });
        weightMasks = coarSelection(fit, cadWeights).weightMasks;
        extra = { coar_r2: fit.r2, coar_r2_held_out: fit.r2HeldOut, coar_masks: fit.masks };
        const heldOut = fit.heldOutMasks ? `, ${fit.r2HeldOut.toFixed(4)} on ${fit.heldOutMasks} held-out masks` : ' (too few masks to hold any out)';
        ctx.log(`COAR: ${fit.masks} masks, fit R² = ${fit.r2.toFixed(4)} on its masks${heldOut}`);
      } finally {
        objective.dispose();
      }
    } else {
      weightMasks = expandToWeights(attr.set, matchedBaselineSelection(params.method, attr, cadCounts, params.seed));
    }

    const counted = attr.set.matrices.map((m) => {
      const wm = weightMasks.get(m.name);
      return { m, zeroed: wm ? wm.reduce((a, b) => a + b, 0) : 0 };
    });
    const zeroed = counted.reduce((a, c) => a + c.zeroed, 0);
    const what = attr.objective === 'amplify' ? 'amplify' : 'erase';
    const methodLabel = params.method === 'cad' ? 'CAD' : params.method;
    const ruleText = `${params.selection}, ${params.sign}, ρ=${params.rho}${roundsKept > 1 ? ` × ${roundsKept} rounds` : ''}`;
    const how = params.method === 'cad' ? ruleText : inputs.match !== undefined ? 'count matched to the CAD report wired to match' : `count matched to CAD ${ruleText}`;
    const label = `${methodLabel} ${what} '${concept}' (${how}): ${zeroed.toLocaleString('en-US')} weights zeroed`;
    const edited = model.withOverlay(zeroOverlay(attr.set, weightMasks, label));
    ctx.log(label);

    const report: TableValue = {
      columns: ['layer', 'k', 'units', 'units_short', 'cad_components', 'weights_zeroed', 'weights', 'fraction', ...Object.keys(extra)],
      rows: [
        ...counted.map(({ m, zeroed: z }) => {
          const r = cad.report.find((x) => x.name === m.name)!;
          return { layer: m.name, k: r.k, units: r.units, units_short: unitsShort.get(m.name)!, cad_components: cadCounts.get(m.name)!, weights_zeroed: z, weights: m.rows * m.cols, fraction: z / (m.rows * m.cols) };
        }),
        { layer: `total (${methodLabel})`, k: null, units: null, units_short: [...unitsShort.values()].reduce((a, b) => a + b, 0), cad_components: [...cadCounts.values()].reduce((a, b) => a + b, 0), weights_zeroed: zeroed, weights: attr.set.totalWeights, fraction: zeroed / attr.set.totalWeights, ...extra },
      ],
    };
    return { model: edited, report, fraction: zeroed / attr.set.totalWeights };
  },
});
