// Component sets (the COMPONENTS socket value): which scalar weights, grouped how, an attribution talks about.
// A linear weight is read in the PyTorch layout [out, in] that nodes/diffusion uses: axis 0 is the output unit
// (a "row", a neuron), axis 1 its inputs ("columns"). Conv kernels are [kh, kw, in, out] (tfjs): their
// "channel" is the last axis; "row"/"column" read any tensor as [axis 0, the rest flattened].

export const GRANULARITIES = ['weight', 'row', 'column', 'channel', 'head'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/** The paper's components: the feed-forward matrices of every transformer block (GEGLU in- and out-projection). */
export const PAPER_COMPONENT_GLOBS: readonly string[] = [
  '**.transformer_blocks.*.ff.net.0.proj.weight',
  '**.transformer_blocks.*.ff.net.2.weight',
];

/**
 * cadflow's default: the paper's FF matrices and the cross-attention value projections, which map the text into what
 * cross-attention adds to the image (on shapes-tiny FF alone could not erase heart or square: docs/method.md).
 */
export const DEFAULT_COMPONENT_GLOBS: readonly string[] = [...PAPER_COMPONENT_GLOBS, '**.transformer_blocks.*.attn2.to_v.weight'];

/** The named component sets a node offers; `custom` takes its globs param. */
export const COMPONENT_PRESETS = { cadflow: DEFAULT_COMPONENT_GLOBS, paper: PAPER_COMPONENT_GLOBS } as const;
export type ComponentPreset = keyof typeof COMPONENT_PRESETS | 'custom';

export interface ComponentMatrix {
  name: string;
  shape: number[];
  /** Output units (axis 0). */
  rows: number;
  /** Inputs per output unit (the other axes flattened). */
  cols: number;
  /** Components this matrix contributes at the set's granularity. */
  components: number;
}

export interface ComponentSet {
  globs: string[];
  granularity: Granularity;
  /** Heads per matrix for granularity 'head'. */
  heads: number;
  matrices: ComponentMatrix[];
  totalComponents: number;
  totalWeights: number;
}

/** Anything that can list its parameters (a ModelHandle, a toy model). */
export interface ParamSource {
  paramNames(): string[];
  paramShape(name: string): number[];
}

/** Dotted-name glob: `*` matches inside one name segment, `**` any run of segments (also none, before a dot). */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      if (glob[i + 2] === '.') {
        re += '(?:.*\\.)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (ch === '*') {
      re += '[^.]*';
    } else {
      re += ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

function isConvKernel(shape: number[]): boolean {
  return shape.length === 4;
}

function componentsOf(granularity: Granularity, name: string, shape: number[], rows: number, cols: number, heads: number): number {
  switch (granularity) {
    case 'weight': return rows * cols;
    case 'row': return rows;
    case 'channel': return isConvKernel(shape) ? shape[3]! : rows;
    case 'column': return cols;
    case 'head': {
      const axis = headAxisIsColumns(name) ? cols : rows;
      if (axis % heads !== 0) throw new Error(`${name}: ${axis} units do not split into ${heads} heads`);
      return heads;
    }
  }
}

/** Output projections of attention (`to_out`) hold heads along their inputs; everything else along outputs. */
function headAxisIsColumns(name: string): boolean {
  return /\.to_out\b/.test(name);
}

export function buildComponentSet(
  source: ParamSource,
  opts: { globs?: readonly string[]; granularity?: Granularity; heads?: number } = {},
): ComponentSet {
  const globs = [...(opts.globs ?? DEFAULT_COMPONENT_GLOBS)];
  const granularity = opts.granularity ?? 'weight';
  const heads = opts.heads ?? 1;
  const patterns = globs.map(globToRegExp);
  const matrices: ComponentMatrix[] = [];
  for (const name of source.paramNames()) {
    if (!patterns.some((p) => p.test(name))) continue;
    const shape = source.paramShape(name);
    const rows = shape[0] ?? 1;
    const cols = shape.slice(1).reduce((a, b) => a * b, 1);
    matrices.push({ name, shape, rows, cols, components: componentsOf(granularity, name, shape, rows, cols, heads) });
  }
  if (matrices.length === 0) throw new Error(`no parameter matches ${globs.join(', ')}`);
  return {
    globs,
    granularity,
    heads,
    matrices,
    totalComponents: matrices.reduce((a, m) => a + m.components, 0),
    totalWeights: matrices.reduce((a, m) => a + m.rows * m.cols, 0),
  };
}

/** For each weight of the matrix (row-major flat index), the index of the component it belongs to. */
export function componentIndex(set: ComponentSet, m: ComponentMatrix): Uint32Array {
  const out = new Uint32Array(m.rows * m.cols);
  const byColumns = headAxisIsColumns(m.name);
  const headRows = m.rows / set.heads;
  const headCols = m.cols / set.heads;
  const convChannels = set.granularity === 'channel' && isConvKernel(m.shape) ? m.shape[3]! : 0;
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++) {
      const i = r * m.cols + c;
      switch (set.granularity) {
        case 'weight': out[i] = i; break;
        case 'row': out[i] = r; break;
        case 'channel': out[i] = convChannels ? i % convChannels : r; break;
        case 'column': out[i] = c; break;
        case 'head': out[i] = byColumns ? Math.floor(c / headCols) : Math.floor(r / headRows); break;
      }
    }
  }
  return out;
}

/** Per-weight values → per-component sums (a group's first-order effect is the sum of its weights'). */
export function aggregateToComponents(set: ComponentSet, perWeight: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const m of set.matrices) {
    const w = perWeight.get(m.name);
    if (!w) throw new Error(`missing values for ${m.name}`);
    if (set.granularity === 'weight') {
      out.set(m.name, w);
      continue;
    }
    const idx = componentIndex(set, m);
    const sums = new Float32Array(m.components);
    for (let i = 0; i < w.length; i++) sums[idx[i]!] += w[i]!;
    out.set(m.name, sums);
  }
  return out;
}

/** Component-level selection → weight-level 0/1 mask per matrix. */
export function expandToWeights(set: ComponentSet, selected: ReadonlyMap<string, Uint8Array>): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const m of set.matrices) {
    const sel = selected.get(m.name);
    if (!sel) continue;
    if (set.granularity === 'weight') {
      out.set(m.name, sel);
      continue;
    }
    const idx = componentIndex(set, m);
    const w = new Uint8Array(m.rows * m.cols);
    for (let i = 0; i < w.length; i++) w[i] = sel[idx[i]!]!;
    out.set(m.name, w);
  }
  return out;
}

/** Short description for summaries and the editor: counts per matrix. */
export function describeComponentSet(set: ComponentSet): Record<string, unknown> {
  return {
    granularity: set.granularity,
    globs: set.globs,
    matrices: set.matrices.map((m) => ({ name: m.name, shape: m.shape, components: m.components })),
    totalComponents: set.totalComponents,
    totalWeights: set.totalWeights,
  };
}
