// The status page at `/status`: backend, node types, pack errors, queue, recent runs (the editor is at `/`).
// Plain server-rendered HTML (no scripts); it refreshes itself every few seconds.
import type { BackendInfo } from '../nodes/sdk/runtime.ts';
import type { NodeTypeInfo } from '../nodes/sdk/params-schema.ts';
import type { PackError } from './engine/registry.ts';
import type { RunRow } from './store/db.ts';

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface StatusInfo {
  backend: BackendInfo;
  nodes: NodeTypeInfo[];
  packErrors: PackError[];
  queue: string[];
  running: string | undefined;
  runs: RunRow[];
}

function ports(spec: Record<string, { type: string | readonly string[] }>): string {
  return Object.entries(spec).map(([k, v]) => `${esc(k)}: ${esc([v.type].flat().join('|'))}`).join(', ') || '–';
}

export function renderStatusPage(s: StatusInfo): string {
  const b = s.backend;
  const nodeRows = s.nodes.map((n) => `<tr><td><b>${esc(n.type)}</b> v${n.typeVersion}</td><td>${esc(n.category)}</td><td>${esc(n.pack)}</td><td>${ports(n.inputs)}</td><td>${ports(n.outputs)}</td></tr>`).join('');
  const packErrors = s.packErrors.length
    ? `<h2>Pack errors</h2><ul id="pack-errors">${s.packErrors.map((e) => `<li><b>${esc(e.pack)}</b> (${esc(e.path)}): ${esc(e.message)}</li>`).join('')}</ul>`
    : '';
  const runRows = s.runs.map((r) => `<tr><td><code>${esc(r.runId)}</code></td><td>${esc(r.name)}</td><td class="status-${esc(r.status)}">${esc(r.status)}</td><td>${esc(r.createdAt)}</td><td>${esc(r.error?.message ?? '')}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>cadflow — status</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.status-done{color:#2e7d32}.status-error,.status-interrupted{color:#c62828}.status-running{color:#1565c0}</style></head>
<body><h1>cadflow</h1>
<p id="backend">Backend: <b>${esc(b.backend)}</b> (${esc(b.provider)}${b.simd !== undefined ? `, SIMD ${b.simd ? 'on' : 'off'}` : ''})</p>
<p>The editor is at <a href="/">/</a>; this page lists what the server knows. API: <code>/api/nodes</code>, <code>/api/runs</code>.</p>
<h2>Node types (${s.nodes.length})</h2>
<table id="node-types"><tr><th>type</th><th>category</th><th>pack</th><th>inputs</th><th>outputs</th></tr>${nodeRows}</table>
${packErrors}
<h2>Queue</h2><p id="queue">${s.running ? `running <code>${esc(s.running)}</code>; ` : 'idle; '}${s.queue.length} queued${s.queue.length ? `: ${s.queue.map((q) => `<code>${esc(q)}</code>`).join(', ')}` : ''}</p>
<h2>Recent runs</h2>
<table id="runs"><tr><th>run</th><th>workflow</th><th>status</th><th>created</th><th>error</th></tr>${runRows}</table>
</body></html>`;
}
