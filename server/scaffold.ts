// `cadflow new-pack <name>` writes a node pack that passes its own tests at once (docs/writing-nodes.md), and
// `cadflow test [DIR]` runs a pack's tests (vitest, with `cadflow/sdk` resolved to this cadflow) and validates
// its workflows.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACK_NAME } from '../nodes/sdk/define.ts';
import { SDK_VERSION } from '../nodes/sdk/version.ts';
import { REPO_ROOT } from './engine/registry.ts';
import { InputError } from './engine/workflow-file.ts';

/** The files of a new pack named `name`, by path inside its folder. */
export function packFiles(name: string): Record<string, string> {
  const pkg = `cadflow-nodes-${name}`;
  const type = `${name}/WordCount`;
  const nodeVar = 'wordCountNode';
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  const workflow = {
    format: 'cadflow.workflow', version: 1, name: `${name}-example`,
    nodes: {
      prompts: { type: 'Prompts', params: { prompts: ['a red circle on a blue background', 'a big yellow striped square on a white background'] } },
      count: { type: type, typeVersion: 1, params: { min_length: 1 }, inputs: { prompts: ['prompts', 'prompts'] } },
      check: { type: 'Check', typeVersion: 1, params: { metric: 'max', min: 1, max: 12 }, inputs: { value: ['count', 'scores'] } },
    },
    meta: {
      description: `Counts the words of two prompts with ${type}; the Check fails the run if a prompt has more than 12.`,
      test: { expect: { 'count.scores': { min: 1, max: 12 }, 'check.value': { min: 1, max: 12 } } },
    },
  };
  return {
    'package.json': json({
      name: pkg,
      version: '0.1.0',
      description: `cadflow node pack ${name}`,
      type: 'module',
      license: 'MIT',
      keywords: ['cadflow', 'cadflow-pack'],
      files: ['index.ts', 'nodes', 'workflows', 'README.md'],
      scripts: { test: 'cadflow test .' },
      cadflow: { nodes: './index.ts', sdk: `^${SDK_VERSION.split('.')[0]}.0.0` },
    }),
    'index.ts': `// The ${name} node pack: cadflow loads the pack this file default-exports (package.json "cadflow.nodes").
import { defineNodePack } from 'cadflow/sdk';
import { ${nodeVar} } from './nodes/word-count.ts';

export default defineNodePack({ name: '${name}', nodes: [${nodeVar}] });
`,
    'nodes/word-count.ts': `// ${type}: the number of words in each prompt, as SCORES (one value per prompt).
import { defineNode, NodeInputError, z, type PromptsValue, type ScoresValue } from 'cadflow/sdk';

export const ${nodeVar} = defineNode({
  // a pack's node types are named <pack>/<Type>
  type: '${type}',
  typeVersion: 1,
  category: '${name}',
  description: 'Counts the words of each prompt.',
  inputs: { prompts: { type: 'PROMPTS', description: 'The prompts to count' } },
  outputs: { scores: { type: 'SCORES', description: 'Words per prompt' } },
  params: z.object({
    min_length: z.number().int().min(1).max(100).default(1).describe('Shortest word that counts, in letters.'),
  }),
  async execute(ctx, inputs, params) {
    const { prompts } = inputs.prompts as PromptsValue;
    if (!prompts.length) throw new NodeInputError('prompts', 'no prompts to count');
    const values = prompts.map((p) => p.split(/\\s+/).filter((w) => w.length >= params.min_length).length);
    ctx.log(\`\${prompts.length} prompts, \${values.reduce((a, b) => a + b, 0)} words\`);
    const scores: ScoresValue = { name: 'words', values, labels: prompts };
    return { scores };
  },
});
`,
    'test/word-count.test.ts': `// Runs the pack's node in real workflows through cadflow's engine (the SDK harness), and the shipped workflow.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHarness, type Harness } from 'cadflow/sdk/testing';

const root = fileURLToPath(new URL('..', import.meta.url));
let h: Harness;
// the built-in packs (Prompts, Check) and this pack, loaded from its package.json as cadflow will load it
beforeAll(async () => { h = await createHarness({ builtin: true, packDirs: [root] }); });
afterAll(() => h?.close());

const graph = (prompts: string[], min_length = 1) => ({
  format: 'cadflow.workflow', version: 1, meta: {},
  nodes: {
    prompts: { type: 'Prompts', params: { prompts } },
    count: { type: '${type}', params: { min_length }, inputs: { prompts: ['prompts', 'prompts'] } },
  },
});

it('loads as pack ${name}', () => {
  expect(h.registry.packErrors.filter((e) => e.path.startsWith(root))).toEqual([]);
  expect(h.registry.packOf('${type}')).toMatchObject({ name: '${name}', package: '${pkg}' });
});

it('counts the words of each prompt', async () => {
  const run = await h.run(graph(['a red circle', 'a big blue striped square']));
  expect(run.error).toBeUndefined();
  expect(run.output('count', 'scores')).toMatchObject({ name: 'words', values: [3, 5] });
});

it('skips words shorter than min_length', async () => {
  const run = await h.run(graph(['a red circle', 'a big blue striped square'], 4));
  expect(run.output('count', 'scores')).toMatchObject({ values: [1, 3] });
});

it('runs workflows/${name}-example.json and its Check passes', async () => {
  const run = await h.run(fileURLToPath(new URL('../workflows/${name}-example.json', import.meta.url)));
  expect(run.error).toBeUndefined();
  expect(run.output('check', 'value')).toBe(9);
});
`,
    [`workflows/${name}-example.json`]: json(workflow),
    'README.md': `# ${pkg}

A cadflow node pack: \`${type}\` counts the words of each prompt.

## Use it

\`\`\`sh
cd path/to/cadflow
npm install path/to/${pkg}      # or: CADFLOW_NODE_PATH=path/to/${pkg} npx cadflow serve
npx cadflow nodes               # lists ${type} (pack ${name})
\`\`\`

## Develop it

- \`index.ts\` default-exports the pack; \`package.json\` \`"cadflow"\` names that file and the SDK range it needs.
- Node types are named \`${name}/<Type>\`; import only from \`cadflow/sdk\` (and \`cadflow/sdk/testing\` in tests).
- \`npx cadflow test path/to/${pkg}\` (from the cadflow folder) runs \`test/*.test.ts\` and validates \`workflows/*.json\`.
- \`workflows/${name}-example.json\` is a regression test: its Check fails the run (\`cadflow run\` exits 1) when the count is off.

Publish with \`npm publish\`; users install it next to cadflow with \`npm install ${pkg}\`.
`,
  };
}

/** Writes a new pack into `<parent>/cadflow-nodes-<name>`; refuses a bad name or a folder that exists. */
export function scaffoldPack(name: string, parent: string): { dir: string; files: string[] } {
  if (!PACK_NAME.test(name)) throw new InputError(`pack name "${name}" must be lowercase letters, digits and dashes, starting with a letter`);
  const dir = resolve(parent, `cadflow-nodes-${name}`);
  if (existsSync(dir)) throw new InputError(`${dir} already exists`);
  const files = packFiles(name);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return { dir, files: Object.keys(files) };
}

/** Runs a pack's tests with vitest (cadflow/sdk aliased to this cadflow); resolves with vitest's exit code. */
export function runPackTests(dir: string): Promise<number> {
  const vitest = join(REPO_ROOT, 'node_modules/vitest/vitest.mjs');
  if (!existsSync(vitest)) throw new InputError('cadflow test needs vitest, a dev dependency of cadflow: run npm install in the cadflow folder');
  const child = spawn(process.execPath, [vitest, 'run', '--config', join(REPO_ROOT, 'server/pack-vitest.config.ts'), '--dir', dir], {
    cwd: REPO_ROOT, stdio: 'inherit',
  });
  return new Promise((done) => child.on('close', (code) => done(code ?? 1)));
}

/** The pack's workflows/*.json files. */
export function packWorkflows(dir: string): string[] {
  const wfDir = join(dir, 'workflows');
  return existsSync(wfDir) ? readdirSync(wfDir).filter((f) => f.endsWith('.json')).sort().map((f) => join(wfDir, f)) : [];
}
