// The three ways the attribution pack edits a model for a concept: CAD (zero an attribution's top components, in
// rounds with stop and keep checks), the baselines (zero as many weights per matrix chosen another way), and the
// ESD-u contrast (esd.ts). CAD and the baselines share zeroEdit: one reversible overlay and one report format.
import type { TableValue } from '../sdk/values.ts';
import type { ModelHandle } from '../diffusion/handle.ts';
import type { Judge } from '../evaluation/judge.ts';
import type { AttributionValue, GradientHooks } from './attribution.ts';
import { coarSelection, fitCoar, matchedBaselineSelection, type Baseline } from './baselines.ts';
import { expandToWeights } from './components.ts';
import { zeroOverlay } from './masks.ts';
import { buildObjective, type FitPlan } from './plan.ts';
import { iteratedSelection, type RoundCheckResult } from './rounds.ts';
import { countsPerMatrix, selectForErase, type EraseRule } from './selection.ts';
import { roundCheck, type CheckOptions } from './stop-check.ts';
import { partsText } from './summary.ts';

/** Up to 8 rounds of per-row ρ = 0.02; why: docs/method.md. */
export const DEFAULT_RHO = 0.02;
export const DEFAULT_ROUNDS = 8;
/** The evaluation's keep target: a round taking the other values below 95 % of the unedited model's is undone. */
export const DEFAULT_KEEP_AT = 0.95;
/** The checks' samples: 10 DDIM steps, where the judge reads what it reads on 25-step samples (docs/lab-notebook). */
export const DEFAULT_CHECK_STEPS = 10;
/** Amplify / recall rounds stop once ≥ 90 % of fresh samples show the concept. */
export const DEFAULT_RECALL_AT = 0.9;

/** Per matrix, what the report says besides the weights zeroed. */
export interface EditRow { k: number | null; units: number | null; unitsShort: number | null; cadComponents: number }

/** One round of a CAD erase in rounds: J it selected from, components selected, the checks' shares, kept or undone. */
export interface EraseRound { round: number; value: number; components: number; judged_share: number | null; judged_keep: number | null; kept: boolean }

export interface ZeroEdit {
  model: ModelHandle;
  /** Per matrix and a total row: k, units, units_short, cad_components, weights_zeroed, weights, fraction (+ extra); with rounds > 1, each round. */
  report: TableValue & { rounds?: EraseRound[] };
  /** Weights zeroed / weights in the set. */
  fraction: number;
  label: string;
}

export interface EraseHooks extends GradientHooks {
  log(message: string): void;
  progress(value: number, max: number, label?: string): void;
}

/** Zeroes `weightMasks` as one removable overlay labelled `label` and reports the counts per matrix. */
export function zeroEdit(
  model: ModelHandle, attr: AttributionValue, weightMasks: ReadonlyMap<string, Uint8Array>, label: string,
  rows: ReadonlyMap<string, EditRow>, extra: Record<string, number> = {},
): ZeroEdit {
  const counted = attr.set.matrices.map((m) => {
    const wm = weightMasks.get(m.name);
    return { m, zeroed: wm ? wm.reduce((a, b) => a + b, 0) : 0, row: rows.get(m.name)! };
  });
  const zeroed = counted.reduce((a, c) => a + c.zeroed, 0);
  const fullLabel = `${label}: ${zeroed.toLocaleString('en-US')} weights zeroed`;
  const sum = (f: (r: EditRow) => number | null) => counted.reduce((a, c) => a + (f(c.row) ?? 0), 0);
  const report: TableValue = {
    columns: ['layer', 'k', 'units', 'units_short', 'cad_components', 'weights_zeroed', 'weights', 'fraction', ...Object.keys(extra)],
    rows: [
      ...counted.map(({ m, zeroed: z, row }) => ({
        layer: m.name, k: row.k, units: row.units, units_short: row.unitsShort, cad_components: row.cadComponents,
        weights_zeroed: z, weights: m.rows * m.cols, fraction: z / (m.rows * m.cols),
      })),
      {
        layer: `total (${label.split(' ')[0]})`, k: null, units: null, units_short: sum((r) => r.unitsShort), cad_components: sum((r) => r.cadComponents),
        weights_zeroed: zeroed, weights: attr.set.totalWeights, fraction: zeroed / attr.set.totalWeights, ...extra,
      },
    ],
  };
  return { model: model.withOverlay(zeroOverlay(attr.set, weightMasks, fullLabel)), report, fraction: zeroed / attr.set.totalWeights, label: fullLabel };
}

export interface CadEraseOptions {
  rule: EraseRule;
  rounds: number;
  /** The rounds' checks (the judge loaded once the rule is known to select something); undefined = every round runs. */
  check?: CheckOptions & { judge: () => Promise<Judge> };
}

/** The plan's concept, or '' for an attribution made without FitAttribution. */
export const conceptOf = (attr: AttributionValue) => (attr.provenance.plan as FitPlan | undefined)?.concept ?? '';

/**
 * CAD: zero the components `o.rule` selects from the attribution; with rounds > 1, refit on the edited model and zero
 * more (iteratedSelection), checking each round with the judge when `o.check` is given. Throws on a rule that selects nothing.
 */
export async function cadErase(model: ModelHandle, attr: AttributionValue, o: CadEraseOptions, hooks: EraseHooks): Promise<ZeroEdit> {
  const first = selectForErase(attr.set, attr.scores, o.rule);
  if (first.total === 0) throw new NothingSelectedError(first.report.every((r) => r.k === 0));
  const zeroK = first.report.filter((r) => r.k === 0);
  if (zeroK.length) hooks.log(`warning: k = 0 in ${zeroK.map((r) => r.name).join(', ')} — nothing zeroed there`);
  const concept = conceptOf(attr);
  const plan = attr.provenance.plan as FitPlan | undefined;
  const amplify = plan?.objective === 'amplify';
  const stopWhen = o.check && plan && o.rounds > 1 ? await roundCheck(model, plan, { ...o.check, judge: await o.check.judge() }, hooks) : undefined;
  const iterated = await iteratedSelection(model, attr, first, o.rule, o.rounds, {
    ...hooks, stopWhen,
    onRound: (r, res) => {
      // A stop or a spoiled round ends the work: the bar goes to the end, not to r of rounds.
      const ends = res.check?.stop || res.check?.spoiled;
      hooks.progress(ends ? o.rounds : r, o.rounds, ends ? `erase rounds (stopped after ${r})` : 'erase rounds');
      if (o.rounds > 1) hooks.log(`round ${r}/${o.rounds}: J ${res.value.toPrecision(6)}${partsText(res.parts)}, ${res.selection.total} components selected${checkText(res.check, concept, amplify, o.check)}; refit ${res.seconds.refit} s, check ${res.seconds.check} s`);
    },
  });
  // Where Erase's time went (all rounds run, kept or undone), for the report's total row.
  const sum = (f: (s: { refit: number; check: number }) => number) => +iterated.rounds.reduce((a, r) => a + f(r.seconds), 0).toFixed(1);
  let extra: Record<string, number> = o.rounds > 1 ? { refit_s: sum((s) => s.refit), check_s: sum((s) => s.check) } : {};
  if (stopWhen) {
    const kept = iterated.rounds[iterated.kept - 1]!.check!;
    if (kept.spoiled) hooks.log('warning: round 1 already takes the other values below the keep floor; it is kept, as the least edit there is (lower rho or set keep_at 0)');
    else if (!kept.stop) hooks.log(`no round reached the ${amplify ? 'recall' : 'stop'} target: keeping the edit of round ${iterated.kept} (${(100 * kept.share!).toFixed(1)} %), the ${amplify ? 'highest' : 'lowest'} share`);
    extra = { ...extra, rounds_run: iterated.rounds.length, rounds_kept: iterated.kept, judged_share: kept.share!, ...(kept.keep === undefined ? {} : { judged_keep: kept.keep }) };
  }
  const counts = countsPerMatrix(iterated.selected);
  const keptRounds = iterated.rounds.slice(0, iterated.kept);
  const rows = new Map(first.report.map((r) => [r.name, {
    k: r.k, units: r.units, cadComponents: counts.get(r.name)!,
    unitsShort: keptRounds.reduce((a, round) => a + round.selection.report.find((x) => x.name === r.name)!.unitsShort, 0),
  }]));
  const { rho, selection, sign } = o.rule;
  const label = `CAD ${amplify ? 'amplify' : 'erase'} '${concept}' (${selection}, ${sign}, ρ=${rho}${iterated.kept > 1 ? ` × ${iterated.kept} rounds` : ''})`;
  const edit = zeroEdit(model, attr, expandToWeights(attr.set, iterated.selected), label, rows, extra);
  // The rounds one by one (Erase's summary; the editor draws the judged shares over rounds).
  if (o.rounds > 1) {
    edit.report.rounds = iterated.rounds.map((r) => ({
      round: r.round, value: r.value, components: r.selection.total, judged_share: r.check?.share ?? null, judged_keep: r.check?.keep ?? null, kept: r.round <= iterated.kept,
    }));
  }
  hooks.log(edit.label);
  return edit;
}

/** The rule selected nothing: k = 0 everywhere (`rho` too small), or no component had the wanted sign. */
export class NothingSelectedError extends Error {
  constructor(readonly kZero: boolean) {
    super(kZero ? 'k = 0 everywhere' : 'no component has the wanted sign');
    this.name = 'NothingSelectedError';
  }
}

function checkText(check: RoundCheckResult | undefined, concept: string, amplify: boolean, o: CheckOptions | undefined): string {
  if (!check || !o) return '';
  const target = amplify ? `≥ ${100 * o.recallAt} %` : `≤ ${100 * o.stopAt} %`;
  const keep = check.keep === undefined ? '' : `; other values right in ${(100 * check.keep).toFixed(1)} %${check.spoiled ? ': below the keep floor, round undone unless it is round 1' : ''}`;
  return `; ${(100 * check.share!).toFixed(1)} % of ${o.stopSamples} samples judged '${concept}'${check.stop ? ` ${target}: stop` : ` (stop at ${target})`}${keep}`;
}

/**
 * Per-matrix component counts from a CAD report (its layer and cad_components columns), checked against the
 * attribution's set; throws naming what is wrong.
 */
export function reportCounts(value: unknown, attr: AttributionValue): Map<string, number> {
  const table = value as TableValue | undefined;
  if (!table || !Array.isArray(table.rows) || !table.columns?.includes('cad_components')) throw new Error('expected an Erase report (a TABLE with layer and cad_components columns)');
  const byLayer = new Map(table.rows.map((r) => [r.layer, r.cad_components]));
  return new Map(attr.set.matrices.map((m) => {
    const n = byLayer.get(m.name);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > m.components) {
      throw new Error(`the report has no count of 0…${m.components} for ${m.name} (${JSON.stringify(n)}): was it made with this attribution's component set?`);
    }
    return [m.name, n];
  }));
}

export interface BaselineOptions { seed: number; coarMasks: number; coarKeep: number }

/** A baseline zeroing `counts` components per matrix (COAR: the nearest row-granular weight budget). */
export async function baselineErase(
  model: ModelHandle, attr: AttributionValue, method: Baseline, counts: ReadonlyMap<string, number>, o: BaselineOptions, hooks: EraseHooks,
): Promise<ZeroEdit> {
  let weightMasks: Map<string, Uint8Array>;
  let extra: Record<string, number> = {};
  if (method === 'coar') {
    const plan = attr.provenance.plan as FitPlan | undefined;
    if (!plan) throw new Error('COAR needs the attribution\'s objective plan (fit it with FitAttribution)');
    const perComponent = new Map(attr.set.matrices.map((m) => [m.name, (m.rows * m.cols) / m.components]));
    const budget = [...counts].reduce((a, [name, n]) => a + n * perComponent.get(name)!, 0);
    const objective = await buildObjective(model, plan, hooks);
    try {
      const fit = await fitCoar(model, attr.set.globs, objective, model.weights(), { masks: o.coarMasks, keepProbability: o.coarKeep, seed: o.seed }, {
        throwIfAborted: hooks.throwIfAborted, onPass: (d, n) => hooks.progress(d, n, 'COAR masks'),
      });
      weightMasks = coarSelection(fit, budget).weightMasks;
      extra = { coar_r2: fit.r2, coar_r2_held_out: fit.r2HeldOut, coar_masks: fit.masks };
      const heldOut = fit.heldOutMasks ? `, ${fit.r2HeldOut.toFixed(4)} on ${fit.heldOutMasks} held-out masks` : ' (too few masks to hold any out)';
      hooks.log(`COAR: ${fit.masks} masks, fit R² = ${fit.r2.toFixed(4)} on its masks${heldOut}`);
    } finally {
      objective.dispose();
    }
  } else {
    weightMasks = expandToWeights(attr.set, matchedBaselineSelection(method, attr, counts, o.seed));
  }
  const rows = new Map(attr.set.matrices.map((m) => [m.name, { k: null, units: null, unitsShort: null, cadComponents: counts.get(m.name)! }]));
  const edit = zeroEdit(model, attr, weightMasks, `${method} ${attr.objective === 'amplify' ? 'amplify' : 'erase'} '${conceptOf(attr)}' (CAD's count per matrix)`, rows, extra);
  hooks.log(edit.label);
  return edit;
}
